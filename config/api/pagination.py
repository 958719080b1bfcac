from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """`{"count", "next", "previous", "results"}` pages; clients may ask for up to 500 rows."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


#: The largest id or number a query parameter may carry: what a 64-bit database column holds.
MAX_DATABASE_INTEGER = 2**63 - 1
