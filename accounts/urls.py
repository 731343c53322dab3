"""Browser pages of accounts: session sign-in and sign-out (the API lives under /auth/)."""

from django.urls import path

from accounts import account_page, views

urlpatterns = [
    path("login/", views.SessionLoginView.as_view(), name="login"),
    path("login/mfa/", views.MFAPageView.as_view(), name="login-mfa"),
    path("login/mfa/setup/", views.MFASetupPageView.as_view(), name="login-mfa-setup"),
    path("login/mfa/passkey/options/", views.MFAPasskeyOptionsPageView.as_view(), name="login-mfa-passkey-options"),
    path("login/mfa/passkey/", views.MFAPasskeyPageView.as_view(), name="login-mfa-passkey"),
    path("login/sso/", views.SSOStartView.as_view(), name="login-sso"),
    path("login/sso/callback/", views.SSOCallbackView.as_view(), name="login-sso-callback"),
    path("logout/", views.SessionLogoutView.as_view(), name="logout"),
    path("account/", account_page.AccountView.as_view(), name="account"),
    path("invitations/<str:token>/", views.InvitationAcceptView.as_view(), name="invitation-accept"),
]
