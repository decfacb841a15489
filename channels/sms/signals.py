"""Sent after a delivery receipt is stored: `receipt` is the SmsReceipt row.

The SMS channel does not know which message a provider id belongs to; the notify channel,
which owns the outbound messages, listens and applies the receipt.
"""

from django.dispatch import Signal

receipt_recorded = Signal()

# Sent inside the transaction that records a STOP/停止 reply, with `phone` (E.164) and `now`:
# health follow-up (through notify) stops its messages to that number too.
stop_received = Signal()
