"""The tools' names, in one place for the registry, the policy and the CLI."""

READ_TOOLS = ("list_numbers", "get_number", "search_available")
WRITE_TOOLS = ("purchase_number", "update_routing", "release_number")
TOOL_NAMES = READ_TOOLS + WRITE_TOOLS
