"""The booking core's writes. Every change to reservations, slots and doses goes through here.

Import from the sub-modules: `reservations.services.booking` (hold, confirm, book, change,
cancel, no-show), `.credentials` (resident sign-in), `.vaccinations` (record a dose),
`.slots` (season set-up, capacity), `.residents` (ticket-list import), `.rules` (rules file).
"""
