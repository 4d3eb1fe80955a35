from graphcl_rec.bench.published import (
    PUBLISHED,
    PublishedKey,
    model_key,
    published_key,
)


def _run(name, dataset="yelp2018", objective=None):
    model = {} if objective is None else {"objective": objective}
    return {"name": name, "config": {"data": {"dataset": dataset}, "model": model}}


def test_model_key_strips_only_the_dataset_suffix():
    assert model_key("xsimgcl_yelp2018", "yelp2018") == "xsimgcl"
    assert model_key("xsimgcl_d128_yelp2018", "yelp2018") == "xsimgcl_d128"
    assert model_key("xsimgcl_yelp2018", "gowalla") == "xsimgcl_yelp2018"


def test_a_config_with_its_own_figure_uses_it():
    key = published_key(_run("sgl_ed_yelp2018", objective="sgl"))
    assert key == PublishedKey("sgl_ed", "yelp2018", True)
    assert (key.model, key.dataset) in PUBLISHED


def test_a_variant_uses_its_objectives_figure_on_its_dataset():
    assert published_key(_run("xsimgcl_d128_yelp2018", objective="xsimgcl")) == (
        PublishedKey("xsimgcl", "yelp2018", False))
    # XSimGCL has no published Gowalla figure: nothing to compare with.
    assert published_key(_run("xsimgcl_d128_gowalla", "gowalla", "xsimgcl")) is None


def test_no_figure_for_an_unknown_objective_or_a_custom_dataset():
    assert published_key(_run("foo_yelp2018", objective="foo")) is None
    assert published_key(_run("foo_yelp2018")) is None
    custom = {"name": "xsimgcl_custom", "config": {"data": {"path": "x.tsv"},
                                                   "model": {"objective": "xsimgcl"}}}
    assert published_key(custom) is None


def test_a_given_table_replaces_the_default():
    table = {("foo", "yelp2018"): (0.1, 0.1)}
    assert published_key(_run("foo_yelp2018"), table) == PublishedKey(
        "foo", "yelp2018", True)
    assert published_key(_run("xsimgcl_yelp2018"), table) is None
