"""Sent after a delivery receipt is stored: `receipt` is the SmsReceipt row.

The SMS channel does not know which message a provider id belongs to; the notify channel,
which owns the outbound messages, listens and applies the receipt.
"""

from django.dispatch import Signal

receipt_recorded = Signal()
