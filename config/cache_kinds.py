"""Cache backends that live in one process's memory (or nowhere): settings keep sessions out of
them, and config/checks.py refuses them in production. No imports, so settings can read it."""

PROCESS_LOCAL_CACHE_BACKENDS = frozenset(
    {
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
    }
)
