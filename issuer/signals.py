"""Revoke sessions when a user is deactivated, deleted, or their password changes, whichever path did it.

These are receivers rather than service calls because the admin, `changepassword`, the shell and the
password-reset flow all save users; a session left alive after a password change is the attack
(a stolen session outliving the victim's recovery), so no path may skip this. Bulk `QuerySet.update()`
sends no signal: code that deactivates users in bulk calls `user_sessions_revoke` itself."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import pre_delete, pre_save
from django.dispatch import receiver

from .models import SSOSession
from .services.sessions import user_sessions_revoke

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
    # After commit: a save that rolls back changed nothing, so it must revoke nothing.
    transaction.on_commit(lambda: user_sessions_revoke(user=instance, reason=reason))


@receiver(pre_delete, sender=User, dispatch_uid="issuer.revoke_on_user_delete")
def revoke_on_user_delete(sender, instance, **kwargs) -> None:
    # The sessions are deleted with the user, but their access tokens live on at every relying app until
    # they expire. Revoking first leaves audit events (which outlive the user) naming each sid, and the
    # published revocation list includes those.
    user_sessions_revoke(user=instance, reason=SSOSession.RevokedReason.USER_DEACTIVATED)
