from django.urls import path

from oauth_app.views import oauth_callback

urlpatterns = [path("callback", oauth_callback, name="oauth-callback")]
