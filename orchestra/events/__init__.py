"""The typed event stream out of the engine and the bus that delivers it."""

from orchestra.events._bus import EventBus, Subscriber
from orchestra.events._types import (
    AssertionFailed,
    Event,
    FanoutItemFinished,
    FanoutStarted,
    PageFinished,
    RateLimitWait,
    RecordEmitted,
    RequestSent,
    ResponseIgnored,
    ResponseReceived,
    RetryScheduled,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)

__all__ = [
    "AssertionFailed",
    "Event",
    "EventBus",
    "FanoutItemFinished",
    "FanoutStarted",
    "PageFinished",
    "RateLimitWait",
    "RecordEmitted",
    "RequestSent",
    "ResponseIgnored",
    "ResponseReceived",
    "RetryScheduled",
    "RunFinished",
    "RunStarted",
    "StepFinished",
    "StepStarted",
    "Subscriber",
]
