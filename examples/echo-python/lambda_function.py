"""Returns the event it was invoked with."""


def handler(event, context):
    return event
