"""Writing the infrastructure spec back without losing what people wrote in it.

`spec.yaml` is a file people edit: comments explain why a value is what it
is, and the key order is theirs. A change is therefore applied to the file's
own text with a round-trip YAML parser (ruamel.yaml): values change in
place, new keys are added, removed keys are removed, and every comment and
the order of untouched keys stay. The result must mean exactly the new spec
(checked by loading it back); if it could not, the caller gets the plain
rendering instead, never a file that means something else.
"""

from __future__ import annotations

import io
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq


def _yaml() -> YAML:
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def _merge(node: Any, new: Any) -> Any:
    """`new`'s values, in `node`'s containers where the shapes agree (so their comments survive)."""
    if isinstance(node, CommentedMap) and isinstance(new, dict):
        for key in [k for k in node if k not in new]:
            del node[key]
        for key, value in new.items():
            node[key] = _merge(node[key], value) if key in node else value
        return node
    if isinstance(node, CommentedSeq) and isinstance(new, list) and len(node) == len(new):
        for i, value in enumerate(new):
            node[i] = _merge(node[i], value)
        return node
    if type(node) is type(new) or not isinstance(node, (dict, list)):
        if node == new and type(node) is type(new):
            return node  # keep the scalar object: its quoting and style stay
    return new


def render_spec_update(original_text: str, new_spec: dict[str, Any]) -> str:
    """`original_text` changed to say `new_spec`, comments and key order kept where the keys are."""
    rt = _yaml()
    try:
        document = rt.load(original_text)
    except Exception:  # not YAML we can round-trip: the plain rendering is the honest fallback
        return yaml.safe_dump(new_spec, sort_keys=False, allow_unicode=True, default_flow_style=False)
    if not isinstance(document, CommentedMap):
        return yaml.safe_dump(new_spec, sort_keys=False, allow_unicode=True, default_flow_style=False)
    _merge(document, new_spec)
    out = io.StringIO()
    rt.dump(document, out)
    text = out.getvalue()
    if yaml.safe_load(text) != new_spec:
        return yaml.safe_dump(new_spec, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return text


def merge_spec_file_text(existing_text: str | None, proposed_text: str) -> str:
    """What to write for a proposal's spec.yaml over the workspace's current one: the proposal's meaning,
    the current file's comments. Without a current file, the proposal's text as it is."""
    if not existing_text:
        return proposed_text
    proposed = yaml.safe_load(proposed_text)
    if not isinstance(proposed, dict):
        return proposed_text
    return render_spec_update(existing_text, proposed)
