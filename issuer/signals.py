"""Revoke sessions when a user is deactivated or their password changes, whichever path changed it.

These are receivers rather than service calls because the admin, `changepassword`, the shell and the
password-reset flow all save users; a session left alive after a password change is the attack
(a stolen session outliving the victim's recovery), so no path may skip this."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import pre_save
from django.dispatch import receiver

from . import services
from .models import SSOSession

User = get_user_model()


@receiver(pre_save, sender=User, dispatch_uid="issuer.revoke_on_credentials_change")
def revoke_on_credentials_change(sender, instance, raw: bool = False, **kwargs) -> None:
    if raw or instance.pk is None:
        return
    previous = User.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if previous is None:
        return
    if previous["is_active"] and not instance.is_active:
        reason = SSOSession.RevokedReason.USER_DEACTIVATED
    elif previous["password"] != instance.password:
        reason = SSOSession.RevokedReason.PASSWORD_CHANGED
    else:
        return
    transaction.on_commit(lambda: services.user_sessions_revoke(user=instance, reason=reason))
