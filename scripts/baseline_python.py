#!/usr/bin/env python3
"""Baseline for `polaris bench`: the same deployment done the way a user would script it.

Creates the plan's resources one after another with Microsoft's Python SDK
(azure-mgmt-resource's generic `resources.begin_create_or_update_by_id`), waiting for each
long-running operation with the SDK's poller, then checks the proxy's health endpoint.

It only ever talks to the loopback simulator given in the input file: the endpoint is passed
as `base_url`, its CA as `connection_verify`, and the credential is a fake that never asks
Azure AD for anything.

Usage: baseline_python.py INPUT.json   (written by `polaris bench`)
"""

import io
import json
import re
import sys
import time
import urllib.parse
import urllib.request

from azure.core.credentials import AccessToken
try:
    from azure.mgmt.resource import ResourceManagementClient
except ImportError:  # azure-mgmt-resource >= 24 moved it into a subpackage
    from azure.mgmt.resource.resources import ResourceManagementClient


class FakeCredential:
    """A TokenCredential for the simulator, which accepts any bearer token."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("simulated-token", int(time.time()) + 3600)


def assert_loopback(url):
    host = urllib.parse.urlparse(url).hostname or ""
    if not (host.startswith("127.") or host in ("::1", "localhost")):
        raise SystemExit(f"refusing to contact non-loopback host {host!r}")


def pointer(doc, path):
    for part in [p for p in path.split("/") if p]:
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def resolve(value, secrets, outputs):
    def sub(match):
        key = match.group(1)
        if key.startswith("secret:"):
            return secrets[key[len("secret:"):]]
        return outputs[key]

    return re.sub(r"\$\{([^}]+)\}", sub, value)


def main():
    spec = json.load(open(sys.argv[1]))
    endpoint = spec["endpoint"]
    assert_loopback(endpoint)
    client = ResourceManagementClient(
        FakeCredential(),
        spec["subscription_id"],
        base_url=endpoint,
        connection_verify=spec["ca_path"],
        polling_interval=spec["poll_interval_secs"],
    )

    outputs = {}
    started = time.monotonic()
    for step in spec["steps"]:
        if step["kind"] == "health_check":
            host = resolve(step["host"], spec["secrets"], outputs)
            url = f"http://{host}:{step['port']}{step['health_path']}"
            assert_loopback(url)
            for _ in range(120):
                try:
                    with urllib.request.urlopen(url, timeout=2) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    pass
                time.sleep(spec["poll_interval_secs"])
            continue

        body = resolve(json.dumps(step["body"]), spec["secrets"], outputs)
        poller = client.resources.begin_create_or_update_by_id(
            resource_id=step["id"],
            api_version=step["api_version"],
            parameters=io.BytesIO(body.encode()),
            content_type="application/json",
        )
        result = poller.result()
        document = {"properties": result.properties or {}}
        for selector in step.get("outputs", []):
            value = pointer(document, selector["pointer"])
            if value is not None:
                outputs[f"{step['name']}.{selector['name']}"] = str(value)
    print(json.dumps({"wall_secs": time.monotonic() - started, "steps": len(spec["steps"])}))


if __name__ == "__main__":
    main()
