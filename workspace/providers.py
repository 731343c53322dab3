"""A data provider: options for a select field, cached per inputs and organization."""

from bifrost import data_provider, param


@data_provider(name="licence_types", description="Licence SKUs", category="Examples", cache_ttl_seconds=300)
@param("include_trial", type="bool", default_value=False)
def licence_types(context, include_trial=False):
    options = [
        {"label": "Business Basic", "value": "basic"},
        {"label": "Business Standard", "value": "standard"},
        {"label": "Business Premium", "value": "premium"},
    ]
    if include_trial:
        options.append({"label": "Trial", "value": "trial", "metadata": {"days": 30}})
    return options
