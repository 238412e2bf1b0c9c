"""A referrers API in front of a CNCF registry 2.8 (which has none): a proxy hook answering
``GET /v2/<repo>/referrers/<digest>`` with the OCI index of the layout's manifests whose
``subject`` is that digest, as zot or Harbor would. Everything else goes to the registry."""

from __future__ import annotations

import json
from typing import Any

from tests.support.layout import OciLayout
from tests.support.proxy import Fault, FaultHook, ProxyRequest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def referrers_index(layout: OciLayout, subject: str) -> bytes:
    manifests: list[dict[str, Any]] = []
    for path in sorted((layout.path / "blobs" / "sha256").iterdir()):
        data = path.read_bytes()
        try:
            doc = json.loads(data)
        except ValueError:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("subject"), dict):
            continue
        if doc["subject"].get("digest") != subject:
            continue
        artifact = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType")
        desc: dict[str, Any] = {
            "mediaType": doc.get("mediaType", "application/vnd.oci.image.manifest.v1+json"),
            "digest": f"sha256:{path.name}",
            "size": len(data),
        }
        if artifact:
            desc["artifactType"] = artifact
        if doc.get("annotations"):
            desc["annotations"] = doc["annotations"]
        manifests.append(desc)
    body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    return json.dumps(body).encode()


def serve_referrers(repo: str, layout: OciLayout) -> FaultHook:
    prefix = f"/v2/{repo}/referrers/"

    def hook(req: ProxyRequest) -> Fault | None:
        if req.method == "GET" and req.path.startswith(prefix):
            body = referrers_index(layout, req.path[len(prefix) :])
            return Fault.status_code(200, headers={"Content-Type": OCI_INDEX}, body=body)
        return None

    return hook
