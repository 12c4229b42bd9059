"""A scripted chat model of our own: langchain_core's fakes raise on bind_tools and drop tool calls (LESSONS.md).

`ScriptedChatModel(script=[...])` answers each call with the next scripted
turn, or asks `strategy(messages, tools)` when the script is empty. A turn
is an AIMessage or a dict like the fake servers take: {"args": ..., "tool":
...}, {"calls": [...]}, {"text": ...}, {"error": "..."} (raises), with an
optional "stop" and "usage" ({"input", "output"}). Every call's messages and
bound tools are kept in `.calls`, so a test can read what the model saw.
"""

from __future__ import annotations

from typing import Any, Callable

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field, PrivateAttr


class ScriptedChatModel(BaseChatModel):
    script: list[Any] = Field(default_factory=list)
    strategy: Callable[[list[BaseMessage], list[dict[str, Any]]], Any] | None = None
    stop_key: str = "stopReason"
    _calls: list[tuple[list[BaseMessage], list[dict[str, Any]]]] = PrivateAttr(default_factory=list)
    _tools: list[dict[str, Any]] = PrivateAttr(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def calls(self) -> list[tuple[list[BaseMessage], list[dict[str, Any]]]]:
        return self._calls

    def bind_tools(self, tools: list[Any], *, tool_choice: str | None = None, **kwargs: Any) -> "ScriptedChatModel":
        bound = self.model_copy()
        bound._calls = self._calls  # one history for the model and its bound copies
        bound.script = self.script
        bound._tools = [t if isinstance(t, dict) and "function" in t else convert_to_openai_tool(t)
                        for t in tools if not (isinstance(t, dict) and "cachePoint" in t)]
        return bound

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self._calls.append((list(messages), list(self._tools)))
        turn = self.script.pop(0) if self.script else (self.strategy(messages, self._tools) if self.strategy else {"text": "done"})
        return ChatResult(generations=[ChatGeneration(message=self._message(turn))])

    def _message(self, turn: Any) -> AIMessage:
        if isinstance(turn, AIMessage):
            return turn
        if "error" in turn:
            raise RuntimeError(turn["error"])
        names = [t["function"]["name"] for t in self._tools]
        calls = turn.get("calls") or ([{"tool": turn.get("tool"), "args": turn["args"]}] if "args" in turn else [])
        tool_calls = [{"name": c.get("tool") or (names[0] if names else "answer"), "args": c.get("args") or {}, "id": f"call_{len(self._calls)}_{i}"}
                      for i, c in enumerate(calls)]
        usage = turn.get("usage") or {"input": 100, "output": 20}
        return AIMessage(content=turn.get("text", ""), tool_calls=tool_calls,
                         usage_metadata={"input_tokens": usage["input"], "output_tokens": usage["output"],
                                         "total_tokens": usage["input"] + usage["output"]},
                         response_metadata={self.stop_key: turn.get("stop", "tool_use" if tool_calls else "end_turn")})
