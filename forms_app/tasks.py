from celery import shared_task


@shared_task(name="forms_app.prune_uploads")
def prune_uploads_task() -> int:
    from forms_app.services import form_uploads_prune

    return form_uploads_prune()
