"""What Django's error reports (the DEBUG error page, the admins' error e-mail) may show.

Django's own filter hides settings whose *name* looks secret (KEY, TOKEN, PASS, ...). Bifrost's
connection settings carry their credentials inside a URL under a harmless name (`RABBITMQ_URL`,
`CELERY_BROKER_URL`, `CELERY_RESULT_BACKEND`, the cache's `LOCATION`, the channel layer's `address`),
and under `runserver` the process environment (with `DATABASE_URL` and the rest) is part of
`request.META`. `ReportFilter` also hides the user information and secret query parameters of every
URL it finds in a setting, a META entry, a cookie or a frame variable, wherever it is nested.
Settings: `DEFAULT_EXCEPTION_REPORTER_FILTER`.
"""

import re

from django.views.debug import SafeExceptionReporterFilter

# Django's names, and a few more that hold credentials.
HIDDEN_SETTINGS = re.compile(
    "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL|DSN|PRIVATE|PEPPER|SALT", flags=re.IGNORECASE
)
# scheme://user:password@host or scheme://token@host: everything before the "@".
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/?#\s]+)@", flags=re.IGNORECASE)
# ?password=...&token=... in a URL's query.
_URL_SECRET_PARAMETER = re.compile(
    r"(?P<name>[?&;][^=&#\s]*(?:pass|secret|token|key|auth|signature|credential)[^=&#\s]*=)[^&#\s]*",
    flags=re.IGNORECASE,
)


class ReportFilter(SafeExceptionReporterFilter):
    hidden_settings = HIDDEN_SETTINGS

    def redact_urls(self, text: str) -> str:
        if "://" not in text:
            return text

        def userinfo(match: re.Match) -> str:
            user, colon, _password = match["userinfo"].partition(":")
            kept = f"{user}:" if colon else ""  # a user name without a password may itself be a token
            return f"{match['scheme']}{kept}{self.cleansed_substitute}@"

        text = _URL_USERINFO.sub(userinfo, text)
        return _URL_SECRET_PARAMETER.sub(lambda match: match["name"] + self.cleansed_substitute, text)

    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)  # recurses through dicts, lists and tuples here
        return self.redact_urls(cleansed) if isinstance(cleansed, str) else cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self.redact_urls(value) if isinstance(value, str) else value)
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
