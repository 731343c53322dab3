"""List, requeue or discard dead-lettered messages (DESIGN §9).

Every work queue `<q>` has a dead-letter queue `<q>.dead` (bifrost_site.queues). A message lands
there when a worker rejects it (poison) or it expires. `--requeue` republishes each message, with
its body, headers and properties, to the queue it came from; `--discard` drops them.
"""

import json

from django.core.management.base import BaseCommand, CommandError
from kombu import Exchange, Producer

from bifrost_site import queues


def summarize(message) -> dict:
    headers = dict(message.headers or {})
    deaths = headers.get("x-death") or []
    death = deaths[0] if deaths else {}
    execution_id = None
    try:
        body = json.loads(message.body) if isinstance(message.body, (str, bytes)) else message.body
        args, kwargs = (body[0], body[1]) if isinstance(body, list) and len(body) >= 2 else ([], {})
        execution_id = kwargs.get("execution_id") if isinstance(kwargs, dict) else None
        if execution_id is None and str(headers.get("task", "")).startswith("executions.") and args:
            execution_id = args[0]
    except (ValueError, TypeError, IndexError, AttributeError):
        pass
    return {
        "task": headers.get("task", "?"),
        "task_id": headers.get("id") or message.properties.get("correlation_id"),
        "execution_id": execution_id,
        "reason": death.get("reason", "unknown"),
        "from_queue": death.get("queue"),
        "count": death.get("count", 1),
    }


class Command(BaseCommand):
    help = "List dead-lettered messages per queue; --requeue puts them back on their queue, --discard drops them."

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue", choices=queues.QUEUE_NAMES, action="append", help="Only this queue (repeatable)."
        )
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--requeue", action="store_true", help="Republish to the original queue.")
        action.add_argument("--discard", action="store_true", help="Delete the messages.")
        parser.add_argument("--limit", type=int, default=1000, help="At most this many messages per queue.")

    def handle(self, *args, **options):
        from bifrost_site.celery import app

        bases = options["queue"] or list(queues.QUEUE_NAMES)
        total = 0
        try:
            with app.connection_for_write() as connection:
                queues.declare_topology(connection)
                for base in bases:
                    total += self._process(connection, base, options)
        except OSError as exc:
            raise CommandError(f"cannot reach the broker: {exc}") from exc
        self.stdout.write(f"total: {total}")

    def _process(self, connection, base: str, options) -> int:
        channel = connection.channel()
        try:
            dead = queues.dead_letter_queue(base)(channel)
            target_name = queues.queue_name(base)
            producer = Producer(channel, exchange=Exchange(target_name, type="direct", durable=True))
            messages = []
            while len(messages) < options["limit"]:
                message = dead.get(no_ack=False, accept=["json", "application/json", "application/data"])
                if message is None:
                    break
                messages.append(message)
            verb = "requeued" if options["requeue"] else "discarded" if options["discard"] else "dead"
            self.stdout.write(f"{queues.dead_letter_name(base)}: {len(messages)} message(s) {verb}")
            for message in messages:
                info = summarize(message)
                self.stdout.write(
                    f"  task={info['task']} id={info['task_id']} execution={info['execution_id'] or '-'} "
                    f"reason={info['reason']} from={info['from_queue'] or '-'} deaths={info['count']}"
                )
                if options["requeue"]:
                    headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-")}
                    props = message.properties
                    producer.publish(
                        message.body,
                        routing_key=target_name,
                        headers=headers,
                        content_type=message.content_type,
                        content_encoding=message.content_encoding,
                        correlation_id=props.get("correlation_id"),
                        reply_to=props.get("reply_to"),
                        priority=props.get("priority"),
                        delivery_mode=2,
                        retry=True,
                    )
                    message.ack()
                elif options["discard"]:
                    message.ack()
            if not (options["requeue"] or options["discard"]):
                for message in messages:  # listing only: put them back untouched
                    message.requeue()
            return len(messages)
        finally:
            channel.close()
