"""The ASGI application browser tests serve with daphne: the real one, plus static files from the finders
(as Django's live server does), so no collectstatic step is needed."""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from bifrost_site.asgi import build_application, django_asgi_app

application = build_application(http_app=ASGIStaticFilesHandler(django_asgi_app))
