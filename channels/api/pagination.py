"""Page-number pagination: {count, next, previous, results}."""

from __future__ import annotations

from rest_framework import pagination, serializers
from rest_framework.request import Request
from rest_framework.views import APIView


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int | None:
        """The asked page size; a malformed one is a 400 rather than silently ignored."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        field = serializers.IntegerField(min_value=1, max_value=self.max_page_size)
        try:
            return int(field.run_validation(raw))
        except serializers.ValidationError as error:
            raise serializers.ValidationError({self.page_size_query_param: error.detail}) from None

    def get_page_number(self, request: Request, paginator: object) -> int:
        """The asked page; a malformed one (empty, not a number, below 1) is a 400 like a
        malformed page size, where DRF would silently serve page 1 for `?page=`. A page past
        the last is still DRF's 404."""
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        field = serializers.IntegerField(min_value=1)
        try:
            return int(field.run_validation(raw))
        except serializers.ValidationError as error:
            raise serializers.ValidationError({self.page_query_param: error.detail}) from None

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, object]]:
        parameters: list[dict[str, object]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            schema = parameter["schema"]
            assert isinstance(schema, dict)
            schema["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                schema["maximum"] = self.max_page_size
        return parameters
