"""Generate deploy/schemas/keda-scaledobject-v1alpha1.json from cloudcoil-models-keda (KEDA's CRD as models).

Run with a Python that has cloudcoil-models-keda installed (not a project dependency):
    python deploy/schemas/gen_keda_schema.py > deploy/schemas/keda-scaledobject-v1alpha1.json
"""

import json
import sys
from importlib.metadata import version

from cloudcoil.models.keda.v1alpha1 import ScaledObject

schema = ScaledObject.model_json_schema(by_alias=True, mode="validation")


def tighten(node):
    if isinstance(node, dict):
        node.pop("title", None)
        if node.get("default", 0) is None:
            node.pop("default")
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False  # structural CRD schema: unknown fields are pruned/refused
        for value in node.values():
            tighten(value)
    elif isinstance(node, list):
        for item in node:
            tighten(item)


tighten(schema)
schema["properties"]["apiVersion"] = {"const": "keda.sh/v1alpha1"}
schema["properties"]["kind"] = {"const": "ScaledObject"}
schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
schema["properties"]["metadata"] = {"$ref": "#/$defs/ObjectMeta"}
out = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$comment": (
        "KEDA ScaledObject (keda.sh/v1alpha1), from KEDA's CRD as packaged by "
        f"cloudcoil-models-keda=={version('cloudcoil.models.keda')} "
        "(PyPI), converted with pydantic's model_json_schema; unknown fields refused as the API server's structural "
        "schema prunes them. Regenerate: see deploy/schemas/README.md."
    ),
    **schema,
}
json.dump(out, sys.stdout, indent=1, sort_keys=True)
sys.stdout.write("\n")
