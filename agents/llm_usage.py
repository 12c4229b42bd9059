"""Tokens and cost of every billed model call, booked under the model that served it.

Providers report usage differently; this module reads LangChain's
`usage_metadata` and prices it with models.yaml:
- Bedrock: `input_tokens` includes cache reads and writes (priced at
  `cache_read` / `cache_write`, else at the input price);
- Gemini: cached tokens are part of the prompt count; thinking tokens are
  *not* in `output_tokens` and are billed as output;
- OpenAI-compatible: cached tokens are part of the prompt; reasoning is
  already in `output_tokens`.
A call that fails before an answer (timeout, refused) is counted as a
failed call: it may have been billed, but nobody told us how much.
"""

from __future__ import annotations

from typing import Any

from graphs.state import RoleUsage, merge_usage


def usage_of(message: Any, provider: str, model: str, prices: dict[str, dict[str, float]]) -> RoleUsage:
    """One answered call as RoleUsage (calls=1), priced from the table (unknown models cost 0)."""
    meta = getattr(message, "usage_metadata", None) or {}
    tokens_in = int(meta.get("input_tokens", 0) or 0)
    tokens_out = int(meta.get("output_tokens", 0) or 0)
    in_details = meta.get("input_token_details") or {}
    out_details = meta.get("output_token_details") or {}
    cache_read = int(in_details.get("cache_read", 0) or 0)
    cache_write = int(in_details.get("cache_creation", 0) or 0)
    reasoning = int(out_details.get("reasoning", 0) or 0)
    billed_out = tokens_out + (reasoning if provider == "vertex" else 0)
    price = prices.get(model, {})
    p_in = price.get("input", 0.0)
    uncached = max(0, tokens_in - cache_read - cache_write)
    cost = (uncached * p_in + cache_read * price.get("cache_read", p_in) + cache_write * price.get("cache_write", p_in)
            + billed_out * price.get("output", 0.0)) / 1e6
    return RoleUsage(calls=1, input_tokens=tokens_in, output_tokens=billed_out, cost_usd=round(cost, 6),
                     provider=provider, model=model, cache_read_tokens=cache_read, cache_write_tokens=cache_write,
                     reasoning_tokens=reasoning)


def failed_call(provider: str, model: str) -> RoleUsage:
    return RoleUsage(provider=provider, model=model, failed_calls=1)


def total_usage(usages: dict[str, RoleUsage]) -> RoleUsage:
    """All keys added up (provider and model kept only when they are the same everywhere)."""
    out = RoleUsage()
    for usage in usages.values():
        out = merge_usage({"all": out}, {"all": usage})["all"]
    return out


def usages_of(exc: BaseException) -> dict[str, RoleUsage]:
    """The usage a failed model request still cost (attached by the router)."""
    return dict(getattr(exc, "usages", None) or {})
