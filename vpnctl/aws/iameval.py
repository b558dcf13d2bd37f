"""A small evaluator of IAM identity policies, for proving vpnctl's own policies. Pure.

It decides one request (action, resource ARN, condition context) against one policy document
the way IAM's policy evaluation logic does for a single identity-based policy (IAM User Guide,
"Policy evaluation logic" and "IAM JSON policy elements"): an explicit Deny wins, otherwise an
Allow whose Action, Resource and Condition all match allows, otherwise the request is denied.

- Action and NotAction: ``service:Name`` with ``*`` and ``?`` wildcards, case-insensitive.
- Resource and NotResource: ARN patterns with ``*`` and ``?`` (which may span ``:`` and ``/``,
  as in IAM), case-sensitive.
- Condition: every operator and every key in a block must match (AND); several values of one
  key match if any does (OR). Keys are case-insensitive, as in IAM. Operators: StringEquals,
  StringNotEquals, StringEqualsIgnoreCase, StringLike, StringNotLike, ArnEquals, ArnLike,
  ArnNotEquals, ArnNotLike, Bool, each optionally ``...IfExists``. A key missing from the
  context fails a positive operator and passes a negated one (and any ``IfExists`` one).
  ``Null``: ``"true"`` holds when the key is missing (or an empty set), ``"false"`` when present.
- Set operators on multivalued keys (IAM User Guide, "Single-valued vs. multivalued context
  keys", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html,
  and "Multivalued context key examples"): ``ForAllValues:<op>`` holds when every value of the
  request's set matches at least one policy value under ``<op>`` (for a negated ``<op>``: matches
  none), and also when the key is missing or its set is empty, which is why an Allow with it
  wants a ``Null: false`` beside it; ``ForAnyValue:<op>`` holds when at least one value does,
  and fails on a missing key (unless ``<op>`` ends ``IfExists``).

What it does not do, it refuses (ValueError) instead of guessing: policy variables (``${...}``),
other operators and qualifiers, Principal elements. It evaluates one policy: permission
boundaries, SCPs and session policies are not its business.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

Context = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True)
class Request:
    action: str  # "ec2:AssociateAddress"
    resource: str  # an ARN, or "*" for actions without resource-level permissions
    context: Context = field(default_factory=dict)  # "aws:ResourceTag/vpnctl:name" -> value


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...]
    not_resources: tuple[str, ...] | None
    condition: Mapping[str, Mapping[str, tuple[str, ...]]]


def statements(policy: str | Mapping[str, Any]) -> tuple[Statement, ...]:
    document = json.loads(policy) if isinstance(policy, str) else policy
    if document.get("Version") != "2012-10-17":
        raise ValueError("policy Version must be 2012-10-17 (policy variables and all)")
    raw = document["Statement"]
    return tuple(_statement(s, i) for i, s in enumerate(raw if isinstance(raw, list) else [raw]))


def _strings(value: Any) -> tuple[str, ...]:
    found = tuple(str(v) for v in (value if isinstance(value, list) else [value]))
    if any("${" in v for v in found):
        raise ValueError(f"policy variables are not evaluated here: {found}")
    return found


def _statement(raw: Mapping[str, Any], index: int) -> Statement:
    if "Principal" in raw or "NotPrincipal" in raw:
        raise ValueError("identity policies have no Principal")
    if raw.get("Effect") not in ("Allow", "Deny"):
        raise ValueError(f"statement {index}: Effect must be Allow or Deny")
    condition = {
        op: {key: _strings(v) for key, v in block.items()}
        for op, block in (raw.get("Condition") or {}).items()
    }
    for op in condition:
        _operator(op)
    return Statement(
        sid=str(raw.get("Sid", index)),
        effect=raw["Effect"],
        actions=_strings(raw["Action"]) if "Action" in raw else (),
        not_actions=_strings(raw["NotAction"]) if "NotAction" in raw else None,
        resources=_strings(raw["Resource"]) if "Resource" in raw else (),
        not_resources=_strings(raw["NotResource"]) if "NotResource" in raw else None,
        condition=condition,
    )


# ------------------------------------------------------------------ matching


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    return like(pattern, action, ignore_case=True)


def arn_like(pattern: str, arn: str) -> bool:
    """ArnLike: the six ``:``-separated parts compared one by one, the last keeping its ``:``."""
    if pattern == "*":
        return True
    want, have = pattern.split(":", 5), arn.split(":", 5)
    if len(want) != 6 or len(have) != 6:
        return False
    return all(like(w, h) for w, h in zip(want, have, strict=True))


def _actions(s: Statement, action: str) -> bool:
    if s.not_actions is not None:
        return not any(action_matches(p, action) for p in s.not_actions)
    return any(action_matches(p, action) for p in s.actions)


def _resources(s: Statement, resource: str) -> bool:
    if s.not_resources is not None:
        return not any(like(p, resource) for p in s.not_resources)
    return any(like(p, resource) for p in s.resources)


# ------------------------------------------------------------------ conditions


def _equals(want: str, have: str) -> bool:
    return want == have


def _equals_ignore_case(want: str, have: str) -> bool:
    return want.lower() == have.lower()


def _string_like(want: str, have: str) -> bool:
    return like(want, have)


_POSITIVE: Mapping[str, Callable[[str, str], bool]] = {
    "StringEquals": _equals,
    "StringEqualsIgnoreCase": _equals_ignore_case,
    "StringLike": _string_like,
    "ArnEquals": arn_like,  # IAM compares ArnEquals and ArnLike the same way
    "ArnLike": arn_like,
    "Bool": _equals_ignore_case,
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


SET_OPERATORS = ("ForAllValues", "ForAnyValue")


def _set_operator(op: str) -> tuple[str | None, str]:
    """(set qualifier or None, the operator it qualifies)."""
    qualifier, sep, rest = op.partition(":")
    if not sep:
        return None, op
    if qualifier not in SET_OPERATORS:
        raise ValueError(f"condition qualifier {qualifier}: is not evaluated here")
    if rest == "Null" or ":" in rest:
        raise ValueError(f"condition operator {op} is not evaluated here")
    return qualifier, rest


def _operator(op: str) -> tuple[str, bool, bool]:
    """(base positive operator, negated, if-exists) of a condition operator."""
    _, op = _set_operator(op)
    if op == "Null":
        return op, False, False
    base = op.removesuffix("IfExists")
    if base in _POSITIVE:
        return base, False, base != op
    if base in _NEGATED:
        return _NEGATED[base], True, base != op
    raise ValueError(f"condition operator {op} is not evaluated here")


def _values(context: Context, key: str) -> tuple[str, ...] | None:
    lowered = {k.lower(): v for k, v in context.items()}
    found = lowered.get(key.lower())
    if found is None:
        return None
    return (found,) if isinstance(found, str) else tuple(found)


def _condition(op: str, key: str, wanted: tuple[str, ...], context: Context) -> bool:
    qualifier, _ = _set_operator(op)
    base, negated, if_exists = _operator(op)
    have = _values(context, key)
    if base == "Null":
        absent = not have
        return any((w.lower() == "true") == absent for w in wanted)
    if qualifier == "ForAllValues":
        return all(_one(base, negated, wanted, h) for h in have or ())
    if have is None:
        return if_exists if qualifier == "ForAnyValue" else negated or if_exists
    if qualifier == "ForAnyValue":
        return any(_one(base, negated, wanted, h) for h in have)
    hit = any(_POSITIVE[base](w, h) for w in wanted for h in have)
    return not hit if negated else hit


def _one(base: str, negated: bool, wanted: tuple[str, ...], have: str) -> bool:
    """One value of a request's set under an operator: it matches a policy value (or, negated,
    matches none)."""
    hit = any(_POSITIVE[base](w, have) for w in wanted)
    return not hit if negated else hit


def _conditions(s: Statement, context: Context) -> bool:
    return all(
        _condition(op, key, wanted, context)
        for op, block in s.condition.items()
        for key, wanted in block.items()
    )


# ------------------------------------------------------------------ decisions


def matches(s: Statement, request: Request) -> bool:
    return (
        _actions(s, request.action)
        and _resources(s, request.resource)
        and _conditions(s, request.context)
    )


def decide(found: Sequence[Statement], request: Request) -> bool:
    """True if the statements allow the request: an Allow matches and no Deny does."""
    hits = [s for s in found if matches(s, request)]
    return any(s.effect == "Allow" for s in hits) and not any(s.effect == "Deny" for s in hits)


def allows(policy: str | Mapping[str, Any], request: Request) -> bool:
    return decide(statements(policy), request)


def allowances(policy: str | Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """Every (sid, action, resource pattern) an Allow statement grants, for finding grants no
    call uses. NotAction and NotResource grant open-ended sets: refused."""
    for s in statements(policy):
        if s.effect != "Allow":
            continue
        if s.not_actions is not None or s.not_resources is not None:
            raise ValueError(f"statement {s.sid}: NotAction/NotResource grant open-ended sets")
        for action in s.actions:
            for resource in s.resources:
                yield s.sid, action, resource
