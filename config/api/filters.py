import django_filters

from .pagination import MAX_DATABASE_INTEGER


def id_filter(field_name: str) -> django_filters.NumberFilter:
    """An integer id filter that answers 400 for values no database column can hold."""
    return django_filters.NumberFilter(field_name=field_name, min_value=1, max_value=MAX_DATABASE_INTEGER)
