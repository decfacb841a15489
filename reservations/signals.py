"""Signals the booking core sends. Channels connect to them; the core imports no channel."""

from __future__ import annotations

from django.dispatch import Signal

# Sent for every ReservationEvent the core writes, whichever path wrote it (an ORM save, the
# hand-written booking statements, the reminder scan's bulk insert), inside the writing
# transaction, with `events`: a list of the saved rows (pk set). This is the outbox's doorbell:
# a receiver that acts outside the database waits for the commit (transaction.on_commit), so a
# rolled-back booking is never announced; a process that dies before then leaves the event to
# the sweep. A batch comes as one send, so a receiver can hand it on as one batch.
events_recorded = Signal()

# Sent by the contact services (reservations.services.contact) inside their transaction when a
# resident must get an SMS that belongs to no booking, with `resident`, `phone` (E.164, the
# number to send to), `purpose` (contact.SMS_VERIFICATION_CODE or contact.SMS_STOPPED), `code`
# and `expires_at` (the verification code and its end; "" and None otherwise). The receiver
# (the notify channel) sends once the transaction commits: a rolled-back request sends nothing.
contact_sms_requested = Signal()

# Sent by `manage.py seed_demo` inside its transaction, once the demo municipality, its days and
# residents exist, with `municipality`, `today` and `last_day` (the demo window). Channels add
# their own demo rows here (the call centre's season plan), so the core seeds them without
# importing a channel. A receiver may return a line of text for the command's summary.
demo_seeded = Signal()
