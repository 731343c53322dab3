"""Django settings for Bifrost.

Every value comes from the environment (DESIGN §3) through one django-environ object.
`ENVIRONMENT` picks safe defaults: development is convenient, testing is isolated,
production refuses to start with anything a developer would leave behind.
"""

import base64
import hashlib
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from redis.maint_notifications import MaintNotificationsConfig

from bifrost_site import queues

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    env.read_env(str(env_file))

ENVIRONMENTS = ("development", "testing", "production")
ENVIRONMENT = env.str("ENVIRONMENT", default="development")
if ENVIRONMENT not in ENVIRONMENTS:
    raise ImproperlyConfigured(f"ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, not {ENVIRONMENT!r}")
IS_DEVELOPMENT = ENVIRONMENT == "development"
IS_PRODUCTION = ENVIRONMENT == "production"

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production-0123456789"
# A valid Fernet key that is public knowledge: fine for development, refused in production.
DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzJieXRlcyE="
# Keys published in this repository (here and in docker-compose.yml): never acceptable in production.
KNOWN_DEV_ENCRYPTION_KEYS = {DEV_ENCRYPTION_KEY, "Qp6dFvJQ4xkD2G3V6XbZf0k3HcJ8mN5rT1wYs7uLa9E="}

SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ENCRYPTION_KEYS = [k.strip() for k in env.list("ENCRYPTION_KEYS", default=[DEV_ENCRYPTION_KEY]) if k.strip()]
# Ed25519 key that signs audit-log exports (DESIGN §20, docs/audit.md): base64 of a 32-byte private key.
# Development and testing derive a fixed, public one; production refuses to start without its own.
DEV_AUDIT_SIGNING_KEY = base64.b64encode(hashlib.sha256(b"bifrost development audit signing key").digest()).decode()
AUDIT_SIGNING_KEY = env.str("AUDIT_SIGNING_KEY", default="" if IS_PRODUCTION else DEV_AUDIT_SIGNING_KEY).strip()
DEBUG = env.bool("DEBUG", default=IS_DEVELOPMENT)
DEV_AUTH_BYPASS = env.bool("DEV_AUTH_BYPASS", default=IS_DEVELOPMENT)


def _is_ed25519_seed(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except ValueError:
        return False


def _check_environment_safety() -> None:
    if DEV_AUTH_BYPASS and not IS_DEVELOPMENT:
        raise ImproperlyConfigured("DEV_AUTH_BYPASS can only be on when ENVIRONMENT=development.")
    if not IS_PRODUCTION:
        return
    problems = []
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 32 or SECRET_KEY.startswith("django-insecure"):
        problems.append("SECRET_KEY must be set to a random value of at least 32 characters")
    if not ENCRYPTION_KEYS or KNOWN_DEV_ENCRYPTION_KEYS & set(ENCRYPTION_KEYS):
        problems.append("ENCRYPTION_KEYS must be set to your own Fernet keys (newest first)")
    if any(len(k) < 32 for k in ENCRYPTION_KEYS):
        problems.append("every ENCRYPTION_KEYS entry must be a 32-byte url-safe base64 Fernet key")
    if AUDIT_SIGNING_KEY == DEV_AUDIT_SIGNING_KEY or not _is_ed25519_seed(AUDIT_SIGNING_KEY):
        problems.append("AUDIT_SIGNING_KEY must be set to your own base64 Ed25519 private key (32 bytes)")
    if DEBUG:
        problems.append("DEBUG must be off")
    if problems:
        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(problems) + ".")


_check_environment_safety()

# Loopback is always allowed: container health checks and local tooling call 127.0.0.1.
ALLOWED_HOSTS = [*env.list("ALLOWED_HOSTS", default=["testserver"]), "localhost", "127.0.0.1", "[::1]"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/(api|auth)/.*$"

# "daphne" is not an installed app: the web process runs the daphne server directly (Procfile, docker),
# and the app only replaces `manage.py runserver`, at the cost of importing twisted and autobahn
# (about 15 MB) into every process, workers included (docs/performance.md, Memory).
INSTALLED_APPS = [
    "bifrost_site.apps.BifrostAdminConfig",  # django.contrib.admin, discovered by the URLconf
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "bifrost_site.apps.SchedulesConfig",  # django_celery_beat, shown as "Schedules" in the admin
    "channels",
    "bifrost_site",
    "accounts",
    "orgs",
    "audit",
    "secrets_app",
    "oauth_app",
    "workflows",
    "executions",
    "forms_app",
    "approvals",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "bifrost_site.middleware.RequestContextMiddleware",
    "bifrost_site.input_guard.InputGuardMiddleware",  # 400 for NUL, surrogates, deep JSON (issue 18 #5)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "bifrost_site.middleware.SyncChainMiddleware",  # keep last: see its docstring
]

ROOT_URLCONF = "bifrost_site.urls"
APPEND_SLASH = False  # API paths have no trailing slash (DESIGN §6); pages declare theirs.

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "bifrost_site.wsgi.application"
ASGI_APPLICATION = "bifrost_site.asgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@localhost:5432/bifrost")}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DB_CONNECT_TIMEOUT", default=5)
# Under ASGI every request runs in a thread of its own (asgiref's ThreadSensitiveContext), so a
# persistent per-thread connection never gets reused: a process started from the ASGI entry point
# (bifrost_site.asgi, being imported while settings load) uses psycopg's connection pool instead
# (docs/performance.md). WSGI threads and Celery processes are long-lived and keep their own
# persistent connection. DB_POOL=true/false overrides.
DB_POOL = env.bool("DB_POOL", default="bifrost_site.asgi" in sys.modules)
if DB_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=20),
        "timeout": env.int("DB_POOL_TIMEOUT", default=10),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
WORKSPACE_PATH = Path(env.str("WORKSPACE_PATH", default=str(BASE_DIR / "workspace"))).resolve()
# The worker watches the workspace and re-runs discovery when a file changes (development default).
WORKSPACE_WATCH = env.bool("WORKSPACE_WATCH", default=IS_DEVELOPMENT)
# Workflow code may not import the project's own packages (a guard, not a sandbox: docs/security.md).
WORKFLOW_IMPORT_GUARD = env.bool("WORKFLOW_IMPORT_GUARD", default=True)
# Each worker queues one discovery when it starts.
DISCOVER_ON_WORKER_START = env.bool("DISCOVER_ON_WORKER_START", default=True)
# How long a sync execute request waits for the result before answering 202 (the web timeout).
SYNC_WAIT_SECONDS = env.int("SYNC_WAIT_SECONDS", default=120)
# A sync wait also reads the row this often, so it ends even if the run's answer never arrives.
SYNC_ANSWER_POLL_SECONDS = env.float("SYNC_ANSWER_POLL_SECONDS", default=2.0)
# How long the engine in a worker keeps retrying its writes while the database is unreachable.
ENGINE_DB_RETRY_SECONDS = env.int("ENGINE_DB_RETRY_SECONDS", default=60)
# How long a data provider call waits for the worker.
DATA_PROVIDER_TIMEOUT_SECONDS = env.int("DATA_PROVIDER_TIMEOUT_SECONDS", default=30)
# Runs a signed-in user may start (execute, form submit and startup) before a 429 (DRF rate: "60/min").
RUN_RATE_PER_USER = env.str("RUN_RATE_PER_USER", default="60/min")
# Runs of one organization admitted at once when its max_concurrent_runs is null (GLOBAL runs count as one
# more organization); more wait, Pending with a waiting_reason (DESIGN §15, executions.admission).
ORG_MAX_CONCURRENT_RUNS = env.int("ORG_MAX_CONCURRENT_RUNS", default=10)

DEV_USER_EMAIL = env.str("DEV_USER_EMAIL", default="admin@localhost")
DEV_USER_PASSWORD = env.str("DEV_USER_PASSWORD", default="admin")

EXECUTION_LOG_RETENTION_DAYS = env.int("EXECUTION_LOG_RETENTION_DAYS", default=30)
WORKSPACE_JOB_RETENTION_DAYS = env.int("WORKSPACE_JOB_RETENTION_DAYS", default=30)
UPLOAD_RETENTION_DAYS = env.int("UPLOAD_RETENTION_DAYS", default=7)

# Workspace jobs (docs/background-jobs.md): where pip finds packages, and how long git/pip may run.
PACKAGE_INDEX_URL = env.str("PACKAGE_INDEX_URL", default="")
PACKAGE_FIND_LINKS = env.list("PACKAGE_FIND_LINKS", default=[])
PACKAGE_NO_INDEX = env.bool("PACKAGE_NO_INDEX", default=False)
PACKAGE_INSTALL_TIMEOUT_SECONDS = env.int("PACKAGE_INSTALL_TIMEOUT_SECONDS", default=900)
GIT_COMMAND_TIMEOUT_SECONDS = env.int("GIT_COMMAND_TIMEOUT_SECONDS", default=300)

# --- Redis: results, cache and channel layer use separate db numbers (DESIGN §3). ---
REDIS_URL = env.str("REDIS_URL", default="redis://localhost:6379/0")
# Every key Bifrost writes carries this prefix; test runs use their own so runs never see each other.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="bifrost")


def _redis_url_with_db(url: str, offset: int) -> str:
    parts = urlsplit(url)
    base_db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base_db + offset}"))


REDIS_RESULTS_URL = _redis_url_with_db(REDIS_URL, 0)
REDIS_CACHE_URL = _redis_url_with_db(REDIS_URL, 1)
REDIS_CHANNELS_URL = _redis_url_with_db(REDIS_URL, 2)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}


def _channel_layer_host(url: str) -> dict:
    """redis-py 8 turns on RESP3 "maintenance notifications" (a Redis Enterprise/Cloud feature) by default,
    and while they are on its asyncio pool skips the check that a pooled connection was closed by the
    server: after a Redis restart the first command on each idle connection failed with "Connection
    closed by server" (issue 9, faults). Off, the pool reconnects such a connection before handing it out.

    The socket timeout: an idle consumer waits in a blocking pop of channels-redis's `brpop_timeout` (5 s),
    and redis-py 8's default socket timeout is also 5 s, so an idle WebSocket died with 1011 after 6-11 s
    (issue 18). The read timeout must outlast the pop; it still bounds a command to a Redis that stopped
    answering."""
    return {
        "address": url,
        "maint_notifications_config": MaintNotificationsConfig(enabled=False),
        "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT,
        "socket_keepalive": True,
    }


CHANNEL_LAYER_SOCKET_TIMEOUT = 15  # seconds; > channels-redis's 5 s blocking pop
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [_channel_layer_host(REDIS_CHANNELS_URL)],
            "prefix": f"{REDIS_KEY_PREFIX}:asgi",
            "capacity": 5000,
        },
    }
}
# Every WebSocket gets {"type": "heartbeat"} this often (proxies close silent connections, Caddy and
# nginx after 60 s by default); each beat also checks that the user is still signed in.
WS_HEARTBEAT_SECONDS = env.float("WS_HEARTBEAT_SECONDS", default=25)

# --- Celery (DESIGN §1, §9). ---
RABBITMQ_URL = env.str("RABBITMQ_URL", default="amqp://guest:guest@localhost:5672//")
# Test runs prefix queue names so that concurrent runs on one broker never share messages.
QUEUE_PREFIX = env.str("QUEUE_PREFIX", default="")
CELERY_TASK_QUEUES = queues.work_queues(QUEUE_PREFIX)
CELERY_TASK_ROUTES = queues.task_routes(QUEUE_PREFIX)
CELERY_TASK_DEFAULT_QUEUE = queues.queue_name(queues.DEFAULT, QUEUE_PREFIX)
CELERY_TASK_DEFAULT_EXCHANGE = CELERY_TASK_DEFAULT_QUEUE
CELERY_TASK_DEFAULT_ROUTING_KEY = CELERY_TASK_DEFAULT_QUEUE
CELERY_BROKER_URL = RABBITMQ_URL
# Celery's Redis result backend, one per process; Redis operations retry once, quickly. The run and
# data-provider tasks store no result (their callers get the outcome through executions.answers), so
# publishing them never touches Redis.
CELERY_RESULT_BACKEND = REDIS_RESULTS_URL
CELERY_RESULT_BACKEND_THREAD_SAFE = True
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "global_keyprefix": f"{REDIS_KEY_PREFIX}:celery:",
    "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
CELERY_RESULT_EXPIRES = timedelta(hours=6)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = 7200 + 120
CELERY_TASK_SOFT_TIME_LIMIT = 7200 + 60
# Messages a worker process holds beyond the one it runs (docs/operations.md, Scaling): 1 keeps
# long workflows from holding short ones back behind them on a busy worker while another is idle.
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("WORKER_PREFETCH_MULTIPLIER", default=1)
# Bifrost sets no Celery rate limits; without the check the worker skips a token bucket per task.
CELERY_WORKER_DISABLE_RATE_LIMITS = True
# Recycling of prefork children (docs/operations.md, Scaling). A child whose peak RSS went over the limit is
# replaced by a fresh fork of the worker after its current task: Python seldom hands freed memory back, so
# one large workflow would otherwise keep its child that large. An idle child is about 80 MB RSS, most of
# it shared with the worker. 0 disables either limit. Recycling by task count is off by default: the
# memory limit covers the real risk, and every new child reconnects and re-imports workflow code.
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("WORKER_MAX_MEMORY_PER_CHILD_MB", default=512) * 1024 or None  # KiB
CELERY_WORKER_MAX_TASKS_PER_CHILD = env.int("WORKER_MAX_TASKS_PER_CHILD", default=0) or None
# Celery's Django fixup closes the database connection before and after EVERY task unless this is
# set; reconnecting cost ~1-3 ms per execution. Recycle every 500 tasks instead (the engine's
# close_old_connections() still drops broken or obsolete connections at the start of each run).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=500)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("BROKER_CONNECTION_TIMEOUT", default=2.0)
# Publishing must fail fast when RabbitMQ is down so the API can answer 503 (DESIGN §9).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.25, "interval_max": 0.5}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = False
# Undecodable messages are dead-lettered (and their execution marked PoisonMessage), not acked.
CELERY_WORKER_CONSUMER = "executions.engine.poison:BifrostConsumer"

# --- DRF, JWT, OpenAPI ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.PersonalTokenAuthentication",  # `Bearer bfp_…`; before JWT (DESIGN §17)
        "accounts.authentication.BifrostJWTAuthentication",
        "accounts.authentication.CsrfSessionAuthentication",
        "accounts.authentication.DevBypassAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["bifrost_site.api.permissions.IsPlatformAdmin"],
    "DEFAULT_PAGINATION_CLASS": "bifrost_site.api.pagination.BifrostLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "bifrost_site.api.parsers.MultiPartParser",  # refuses NUL in fields (JSON and forms: input_guard)
    ],
    "DEFAULT_SCHEMA_CLASS": "bifrost_site.api.schema.BifrostAutoSchema",
    "EXCEPTION_HANDLER": "bifrost_site.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": env.str("LOGIN_THROTTLE_RATE", default="30/min"),
        "register": "10/hour",
        "public": env.str("PUBLIC_THROTTLE_RATE", default="60/min"),
        "webhook": env.str("WEBHOOK_THROTTLE_RATE", default="600/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
if not DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = ["rest_framework.renderers.JSONRenderer"]

# Failed logins per (client address, username) before /auth/login answers 429.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=900)
# Identity (DESIGN §17, docs/identity.md): platform admins must enrol a second factor before any token
# is issued (on in production; organizations choose with Organization.require_mfa).
REQUIRE_MFA_FOR_PLATFORM_ADMINS = env.bool("REQUIRE_MFA_FOR_PLATFORM_ADMINS", default=IS_PRODUCTION)
# WebAuthn relying party: the id is the site's host name (passkeys are bound to it); empty = the request's host.
WEBAUTHN_RP_ID = env.str("WEBAUTHN_RP_ID", default="")
WEBAUTHN_RP_NAME = env.str("WEBAUTHN_RP_NAME", default="Bifrost")
# The MSP's own OpenID Connect provider for PLATFORM users (organizations configure theirs in the API/admin).
PLATFORM_SSO_ISSUER = env.str("PLATFORM_SSO_ISSUER", default="")
PLATFORM_SSO_CLIENT_ID = env.str("PLATFORM_SSO_CLIENT_ID", default="")
PLATFORM_SSO_CLIENT_SECRET = env.str("PLATFORM_SSO_CLIENT_SECRET", default="")
PLATFORM_SSO_EMAIL_DOMAINS = [
    d.strip().lower() for d in env.list("PLATFORM_SSO_EMAIL_DOMAINS", default=[]) if d.strip()
]
PLATFORM_SSO_ADMIN_GROUP = env.str("PLATFORM_SSO_ADMIN_GROUP", default="")  # this groups-claim value: platform admin
PLATFORM_SSO_GROUPS_CLAIM = env.str("PLATFORM_SSO_GROUPS_CLAIM", default="groups")
PLATFORM_SSO_ENFORCE = env.bool("PLATFORM_SSO_ENFORCE", default=False)  # refuse passwords for those domains
# Outgoing email (invitations): EMAIL_URL as django-environ reads it, e.g. smtp+tls://user:pass@mail.example.com:587.
# Development prints emails to the console; the test runner swaps in Django's in-memory backend.
vars().update(env.email_url("EMAIL_URL", default="consolemail://" if IS_DEVELOPMENT else "smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Bifrost <bifrost@localhost>")
# Notifications (DESIGN §16, docs/notifications.md): links in messages and approver emails start with
# PUBLIC_BASE_URL; a failed delivery is retried NOTIFICATION_MAX_ATTEMPTS times in all, waiting
# NOTIFICATION_RETRY_SECONDS × 2^(attempt-1) (at most 1 hour) between attempts.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://localhost:8000").rstrip("/")
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=5)
NOTIFICATION_RETRY_SECONDS = env.float("NOTIFICATION_RETRY_SECONDS", default=30.0)
NOTIFICATION_TIMEOUT_SECONDS = env.int("NOTIFICATION_TIMEOUT_SECONDS", default=10)

ACCESS_TOKEN_MINUTES = env.int("ACCESS_TOKEN_MINUTES", default=30)
REFRESH_TOKEN_DAYS = env.int("REFRESH_TOKEN_DAYS", default=7)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=REFRESH_TOKEN_DAYS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "AUDIENCE": env.str("JWT_AUDIENCE", default="bifrost"),
    "ISSUER": env.str("JWT_ISSUER", default="bifrost"),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Bifrost API",
    "DESCRIPTION": "Automation platform for managed service providers: workflows, forms, executions.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api",
    "ENUM_NAME_OVERRIDES": {
        "WorkspaceJobStatusEnum": "workflows.models.JobStatus",
        "ExecutionStatusEnum": "executions.models.ExecutionStatus",
        "ExecutionTriggerEnum": "executions.models.Trigger",
        "ExecutionResultTypeEnum": "executions.models.ResultType",
        "ExecutionLogLevelEnum": "executions.models.LogLevel",
    },
    # The development bypass is not an API contract; the schema is the same in every environment.
    "AUTHENTICATION_WHITELIST": [
        "accounts.authentication.PersonalTokenAuthentication",
        "accounts.authentication.BifrostJWTAuthentication",
        "accounts.authentication.CsrfSessionAuthentication",
    ],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums"],
    # Swagger UI's files come from drf-spectacular-sidecar (served as our own static files), so /docs
    # works offline and under the Content-Security-Policy below; no CDN, no external validator badge.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": False, "validatorUrl": None},
}

# --- Security (docs/security.md) ---
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if IS_PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy (django-csp) on every response. Scripts only from our origin (no inline
# script anywhere: the admin, Swagger UI via /docs?script=, the log viewer and the login pages all
# load static files); inline styles are allowed (the admin, Swagger UI and the OAuth callback page
# use them); the log viewer's WebSocket needs ws:/wss:.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'", "ws:", "wss:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

# Optional bearer token for GET /metrics (empty: public, as DESIGN §6 lists it).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Error pages and error e-mails hide credentials inside URLs too (RABBITMQ_URL, the cache LOCATION, ...).
DEFAULT_EXCEPTION_REPORTER_FILTER = "bifrost_site.error_reports.ReportFilter"

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"not_captured": {"()": "bifrost_site.logging_filters.NotCapturedByExecution"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            # A workflow's own log lines are stored with its execution, not echoed (docs/performance.md).
            "filters": [] if env.bool("LOG_WORKFLOW_LINES", default=False) else ["not_captured"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "daphne": {"level": "INFO"},
        "daphne.http_protocol": {"level": "WARNING"},
        "daphne.ws_protocol": {"level": "WARNING"},
    },
}
