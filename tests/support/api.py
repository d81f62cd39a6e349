"""Drive the REST API as a given user, through Django's test client (real URL routing,
auth, serialization and error handling; no network)."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from envoi.accounts.services import create_token, create_user


class Api:
    def __init__(self, username: str, *roles: str):
        self.user = create_user(username, roles)
        self.token = create_token(self.user)
        self.client = Client()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any):
        return self.client.get(f"/api/v1{path}", params, headers=self._headers())

    def post(self, path: str, data: Any = None, *, content_type: str = "application/json"):
        body = data if isinstance(data, str | bytes) or data is None else json.dumps(data)
        return self.client.post(f"/api/v1{path}", body or "", content_type=content_type,
                                headers=self._headers())

    def patch(self, path: str, data: Any):
        return self.client.patch(f"/api/v1{path}", json.dumps(data),
                                 content_type="application/json", headers=self._headers())

    def ok(self, response, status: int = 200) -> Any:
        assert response.status_code == status, (response.status_code, response.content[:2000])
        return response.json() if response.content else None
