"""Sent when a call ends (`call` is the VoiceCall, its result final): the app that asked for
the call (notify, which owns the messages) decides what follows: done, call again later, or
the operators' call list. Sent inside the transaction that records the end."""

from django.dispatch import Signal

call_finished = Signal()
