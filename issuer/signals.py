"""Revoke sessions when a user is deactivated, deleted, or their password changes, whichever path did it; and
have live sessions work out their apps and roles again when groups, app access or apps change.

These are receivers rather than service calls because the admin, `changepassword`, the shell and the
password-reset flow all save users; a session left alive after a password change is the attack
(a stolen session outliving the victim's recovery), so no path may skip this. Likewise a role or an app
taken away must reach the next access token whichever path took it. Bulk `QuerySet.update()` sends no
signal: code that deactivates users in bulk calls `user_sessions_revoke` itself, and code that changes
grants in bulk calls `session_grants_invalidate`."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from .models import GroupMFAPolicy, RelyingApp, SSOSession
from .services.sessions import session_grants_invalidate, user_sessions_revoke

User = get_user_model()


@receiver(pre_save, sender=User, dispatch_uid="issuer.revoke_on_credentials_change")
def revoke_on_credentials_change(sender, instance, raw: bool = False, update_fields=None, **kwargs) -> None:
    if raw or instance.pk is None:
        return
    previous = User.objects.filter(pk=instance.pk).values("password", "is_active", "is_superuser").first()
    if previous is None:
        return
    if previous["is_superuser"] != instance.is_superuser:
        session_grants_invalidate(user=instance)  # a superuser may use every app
    if previous["is_active"] and not instance.is_active:
        reason = SSOSession.RevokedReason.USER_DEACTIVATED
    elif previous["password"] != instance.password and not _same_password_rehashed(instance, update_fields):
        reason = SSOSession.RevokedReason.PASSWORD_CHANGED
    else:
        return
    # After commit: a save that rolls back changed nothing, so it must revoke nothing.
    transaction.on_commit(lambda: user_sessions_revoke(user=instance, reason=reason))


def _same_password_rehashed(user, update_fields) -> bool:
    """Whether this save is Django rehashing the same password on sign-in (the preferred hasher or its cost
    changed, e.g. PBKDF2 to Argon2id), which is no change of credentials: its check_password() setter saves
    `password` alone after clearing `_password`, which set_password() fills for every real change."""
    return getattr(user, "_password", None) is None and update_fields is not None and set(update_fields) == {"password"}


@receiver(pre_delete, sender=User, dispatch_uid="issuer.revoke_on_user_delete")
def revoke_on_user_delete(sender, instance, **kwargs) -> None:
    # The sessions are deleted with the user, but their access tokens live on at every relying app until
    # they expire. Revoking first leaves a RevokedSession row per sid (no link to the user, so it outlives
    # them), and the published revocation list reads those.
    user_sessions_revoke(user=instance, reason=SSOSession.RevokedReason.USER_DEACTIVATED)


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="issuer.grants_on_groups_change")
@receiver(m2m_changed, sender=RelyingApp.users.through, dispatch_uid="issuer.grants_on_app_users_change")
@receiver(m2m_changed, sender=RelyingApp.groups.through, dispatch_uid="issuer.grants_on_app_groups_change")
def grants_on_membership_change(sender, instance, action: str, **kwargs) -> None:
    # From the user's side (user.groups, user.relying_apps) only that user is concerned; from a group's or an
    # app's side, possibly anyone: every live session works its grants out again (one UPDATE, rare changes).
    if action in ("post_add", "post_remove", "post_clear"):
        session_grants_invalidate(user=instance if isinstance(instance, User) else None)


@receiver(post_save, sender=RelyingApp, dispatch_uid="issuer.grants_on_app_save")
@receiver(post_delete, sender=RelyingApp, dispatch_uid="issuer.grants_on_app_delete")
@receiver(post_delete, sender=Group, dispatch_uid="issuer.grants_on_group_delete")
@receiver(post_save, sender=GroupMFAPolicy, dispatch_uid="issuer.grants_on_group_mfa_policy_save")
@receiver(post_delete, sender=GroupMFAPolicy, dispatch_uid="issuer.grants_on_group_mfa_policy_delete")
def grants_on_app_or_group_change(sender, instance, raw: bool = False, **kwargs) -> None:
    # An app's audience or activity, a deleted app or group (whose memberships go without m2m signals).
    if not raw:
        session_grants_invalidate()


@receiver(post_save, sender=Group, dispatch_uid="issuer.grants_on_group_rename")
def grants_on_group_save(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    # A group's name is a role name in tokens; a new group has no members yet.
    if not created and not raw:
        session_grants_invalidate()
