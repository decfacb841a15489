"""REST API for partner systems (version 1). The index says what this version offers."""

from django.http import HttpRequest, JsonResponse


def root(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"name": "Madoguchi API", "version": "v1", "endpoints": []})
