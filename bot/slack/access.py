"""Who may do what: a Slack user's role, from config ids and user groups.

Roles come from the config's `access` lists, which name user ids (`U…`) and user-group
handles (`@mesh-approvers`) or ids (`S…`). Groups are resolved through the Web API
(`usergroups.list`, `usergroups.users.list`) and cached for a short while, so a click
re-checks the clicker's role without a Slack round trip each time. If Slack cannot say
who is in a group, the group grants nothing (fail closed) and the failure is logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.core.settings import AccessConfig
from commands.core.model import Caller, Role

log = logging.getLogger(__name__)
GROUP_CACHE_S = 300.0


class GroupDirectory:
    """User-group handle or id → member ids, cached."""

    def __init__(
        self,
        client: WebClient,
        ttl_s: float = GROUP_CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._handles: tuple[float, dict[str, str]] | None = None
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    def members(self, group: str) -> frozenset[str]:
        try:
            group_id = self._group_id(group)
            if group_id is None:
                log.warning("user group %s does not exist in this workspace", group)
                return frozenset()
            return self._members_of(group_id)
        except (SlackApiError, SlackClientError) as exc:
            log.warning("cannot resolve user group %s: %s", group, exc)
            return frozenset()

    def _group_id(self, group: str) -> str | None:
        if not group.startswith("@"):
            return group
        now = self._clock()
        with self._lock:
            cached = self._handles
        if cached is None or now - cached[0] > self._ttl_s:
            response = self._client.usergroups_list()
            groups: list[dict[str, str]] = response.get("usergroups", [])
            handles = {g["handle"]: g["id"] for g in groups}
            cached = (now, handles)
            with self._lock:
                self._handles = cached
        return cached[1].get(group[1:])

    def _members_of(self, group_id: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            cached = self._members.get(group_id)
        if cached is None or now - cached[0] > self._ttl_s:
            response = self._client.usergroups_users_list(usergroup=group_id)
            cached = (now, frozenset(response.get("users", [])))
            with self._lock:
                self._members[group_id] = cached
        return cached[1]


class AccessPolicy:
    def __init__(self, config: AccessConfig, groups: GroupDirectory | None) -> None:
        self._config = config
        self._groups = groups

    def role_of(self, user_id: str) -> Role | None:
        for role, names in (
            (Role.APPROVER, self._config.approvers),
            (Role.OPERATOR, self._config.operators),
            (Role.VIEWER, self._config.viewers),
        ):
            if any(self._matches(user_id, name) for name in names):
                return role
        default = self._config.default_role
        return None if default == "none" else Role.parse(default)

    def caller(self, user_id: str, channel_id: str | None) -> Caller:
        return Caller(user_id, self.role_of(user_id), channel_id, front_end="slack")

    def _matches(self, user_id: str, name: str) -> bool:
        if name == user_id:
            return True
        if (name.startswith("@") or name.startswith("S")) and self._groups is not None:
            return user_id in self._groups.members(name)
        return False
