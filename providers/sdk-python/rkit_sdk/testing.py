"""Testing a provider on CPython, without building a component: `Dispatch(MyProvider)` runs
the SPI calls as rkit would (JSON text in and out, errors as `Error`).

    d = Dispatch(MyProvider)
    d.configure("{}")
    id, attributes = d.create("Greeting", '{"Name": "world"}', {}, "token")
"""

from .provider import Dispatch

__all__ = ["Dispatch"]
