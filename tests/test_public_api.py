"""The public namespace is deliberate: pin it so changes are reviewed."""

import orchestra
import orchestra.builder
import orchestra.demo
import orchestra.engine
import orchestra.events
import orchestra.expressions
import orchestra.plan


def test_top_level_names():
    assert orchestra.__all__ == sorted(orchestra.__all__)
    assert set(orchestra.__all__) == {
        "AbortError", "AuthError", "CaptureStore", "CircuitOpenError", "CompiledPlan",
        "ConfigError", "ContextStore", "ExpectationFailed", "ExpressionError",
        "ExpressionSyntaxError", "Flow",
        "HTTPStatusError", "InMemoryContextStore", "LimitExceeded", "OrchestraError",
        "Plan", "PlanError", "RateLimitExceeded", "ReadCaps", "Record", "RequestError", "RunError",
        "RunResult", "RunStatus", "Runner", "StepCall", "StepHook", "StepStatus",
        "TemplateError", "TooManyRedirects", "__version__", "arun", "load_plan",
        "plan_json_schema", "run",
    }  # fmt: skip


def test_every_public_module_exports_what_it_lists():
    for module in (orchestra, orchestra.engine, orchestra.events, orchestra.expressions,
                   orchestra.plan, orchestra.demo, orchestra.builder):  # fmt: skip
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_subpackages_stay_reachable_as_attributes_of_the_lazy_root() -> None:
    """``import orchestra; orchestra.capture.…`` worked when the root imported everything."""
    import subprocess
    import sys

    code = (
        "import orchestra\n"
        "assert orchestra.capture.export_har and orchestra._run.build_runner\n"
        "try:\n    orchestra.no_such_thing\nexcept AttributeError:\n    pass\n"
        "else:\n    raise SystemExit('no AttributeError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
