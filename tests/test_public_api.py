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
        "Plan", "PlanError", "RateLimitExceeded", "Record", "RequestError", "RunError",
        "RunResult", "RunStatus", "Runner", "StepCall", "StepHook", "StepStatus",
        "TemplateError", "TooManyRedirects", "__version__", "arun", "load_plan",
        "plan_json_schema", "run",
    }  # fmt: skip


def test_every_public_module_exports_what_it_lists():
    for module in (orchestra, orchestra.engine, orchestra.events, orchestra.expressions,
                   orchestra.plan, orchestra.demo, orchestra.builder):  # fmt: skip
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
