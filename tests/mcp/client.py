"""An MCP client as agents run one, on the official MCP Python SDK: connects to dbosd over streamable
HTTP (`--http URL [--token T] [--request-id ID]`) or over stdio (`--stdio COMMAND ARG...`, e.g. `dbosd mcp --address
... --token ...`), lists the tools and resource templates, then makes the calls of a plan given as
JSON in the environment variable MCP_PLAN:

    {"calls": [{"tool": "list_workflows", "arguments": {...}}, ...],
     "resources": ["dbos://workflow/<id>", ...]}

and prints one JSON document on stdout:

    {"server": {...}, "tools": [{"name", "description", "input_schema", "annotations"}],
     "resource_templates": [...],
     "results": [{"tool", "is_error", "text"}], "resources": [{"uri", "error" | "text"}]}

A connection that fails prints {"connect_error": "..."} and exits 0, so the caller can assert on it.
Used by tests/it/mcp/.
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def text_of(contents) -> str:
    return "".join(getattr(c, "text", "") for c in contents)


async def run_session(read, write, plan) -> dict:
    out = {}
    async with ClientSession(read, write) as session:
        init = await session.initialize()
        out["server"] = {"name": init.server_info.name, "instructions": init.instructions}
        tools = await session.list_tools()
        out["tools"] = [
            {
                "name": t.name,
                "description": t.description,
                "input_schema": t.input_schema,
                "annotations": t.annotations.model_dump(exclude_none=True) if t.annotations else None,
            }
            for t in tools.tools
        ]
        templates = await session.list_resource_templates()
        out["resource_templates"] = [t.uri_template for t in templates.resource_templates]
        out["results"] = []
        for call in plan.get("calls", []):
            try:
                result = await session.call_tool(call["tool"], call.get("arguments", {}))
            except Exception as e:  # a protocol error (e.g. an unknown tool): recorded as such
                out["results"].append({"tool": call["tool"], "is_error": True, "protocol_error": str(e)})
                continue
            out["results"].append(
                {"tool": call["tool"], "is_error": bool(result.is_error), "text": text_of(result.content)}
            )
        out["resources"] = []
        for uri in plan.get("resources", []):
            try:
                read_result = await session.read_resource(uri)
                out["resources"].append({"uri": uri, "text": text_of(read_result.contents)})
            except Exception as e:  # an MCP error reply: the assertion is the caller's
                out["resources"].append({"uri": uri, "error": str(e)})
    return out


async def main() -> None:
    plan = json.loads(os.environ.get("MCP_PLAN") or "{}")
    args = sys.argv[1:]
    try:
        if args[0] == "--http":
            url = args[1]
            headers = {}
            options = dict(zip(args[2::2], args[3::2]))
            if "--token" in options:
                headers["Authorization"] = f"Bearer {options['--token']}"
            if "--request-id" in options:
                headers["x-request-id"] = options["--request-id"]
            async with create_mcp_http_client(headers=headers) as http:
                async with streamable_http_client(url, http_client=http) as (read, write):
                    out = await run_session(read, write, plan)
        elif args[0] == "--stdio":
            params = StdioServerParameters(command=args[1], args=args[2:])
            async with stdio_client(params) as (read, write):
                out = await run_session(read, write, plan)
        else:
            raise SystemExit(f"usage: {sys.argv[0]} --http URL [--token T] [--request-id ID] | --stdio COMMAND ARG...")
    except Exception as e:  # noqa: BLE001 - reported to the test, which decides
        causes = []
        err = e
        while err is not None:
            causes.append(f"{type(err).__name__}: {err}")
            inner = getattr(err, "exceptions", None)
            err = inner[0] if inner else err.__cause__
        out = {"connect_error": " <- ".join(causes)}
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
