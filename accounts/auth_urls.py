from django.urls import path

from accounts.api import views

urlpatterns = [
    path("login", views.LoginView.as_view(), name="auth-login"),
    path("refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("logout", views.LogoutView.as_view(), name="auth-logout"),
    path("me", views.MeView.as_view(), name="auth-me"),
    path("register", views.RegisterView.as_view(), name="auth-register"),
    path("password", views.PasswordChangeView.as_view(), name="auth-password"),
    path("mfa", views.MFAView.as_view(), name="auth-mfa"),
    path("mfa/totp", views.TotpView.as_view(), name="auth-mfa-totp"),
    path("mfa/totp/confirm", views.TotpConfirmView.as_view(), name="auth-mfa-totp-confirm"),
    path("mfa/recovery-codes", views.RecoveryCodesView.as_view(), name="auth-mfa-recovery-codes"),
    path("mfa/passkeys", views.PasskeyListView.as_view(), name="auth-mfa-passkeys"),
    path(
        "mfa/passkeys/registration-options",
        views.PasskeyRegistrationOptionsView.as_view(),
        name="auth-mfa-passkeys-registration-options",
    ),
    path(
        "mfa/passkeys/authentication-options",
        views.PasskeyAuthenticationOptionsView.as_view(),
        name="auth-mfa-passkeys-authentication-options",
    ),
    path("mfa/passkeys/<str:passkey_id>", views.PasskeyDetailView.as_view(), name="auth-mfa-passkey"),
]
