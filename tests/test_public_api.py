"""The public namespace is deliberate: pin it so changes are reviewed."""

import orchestra
import orchestra.demo
import orchestra.engine
import orchestra.events
import orchestra.expressions
import orchestra.plan


def test_top_level_names():
    assert orchestra.__all__ == sorted(orchestra.__all__)
    assert set(orchestra.__all__) == {
        "AbortError", "CompiledPlan", "ConfigError", "ExpectationFailed",
        "ExpressionSyntaxError", "HTTPStatusError", "LimitExceeded", "OrchestraError",
        "Plan", "PlanError", "RateLimitExceeded", "Record", "RequestError", "RunError",
        "RunResult", "RunStatus", "Runner", "StepCall", "StepHook", "StepStatus",
        "TemplateError", "__version__", "arun", "load_plan", "plan_json_schema", "run",
    }  # fmt: skip


def test_every_public_module_exports_what_it_lists():
    for module in (orchestra, orchestra.engine, orchestra.events, orchestra.expressions,
                   orchestra.plan, orchestra.demo):  # fmt: skip
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_the_engine_imports_no_surface():
    import ast
    from pathlib import Path

    root = Path(orchestra.__file__).parent
    for layer in ("engine", "events", "plan", "expressions"):
        for path in (root / layer).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module:
                    assert not node.module.startswith(("orchestra.cli", "orchestra.demo")), (
                        f"{path} imports {node.module}"
                    )
