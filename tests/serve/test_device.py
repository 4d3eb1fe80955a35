import numpy as np
import torch

from graphcl_rec.models import BPRRecommender
from graphcl_rec.serve import TrainedRecommender, export, load_exported
from tests.serve.conftest import make_encoder


def test_serving_round_trip_on_device(small, device, tmp_path):
    torch.manual_seed(0)
    results = {}
    for name in ("lightgcn", "mf"):
        model = BPRRecommender(make_encoder(name, 20, 15)).to(device)
        rec = TrainedRecommender(model, small)
        assert rec.user_emb.device.type == torch.device(device).type
        rec.fold_in_user("new", ["i1", "i2"])
        rec.fold_in_item("new item", ["u0", "u3"])
        ids, scores = rec.recommend(["new", "u0", "ghost"], k=5, unknown="popular")
        assert "i1" not in ids[0] and "new item" not in ids[1]
        assert np.isfinite(scores).all()
        rec.update([("u1", "i3"), ("other", "i4")], epochs=1)
        assert rec.model.encoder.num_users == 22
        results[name] = rec
    back = load_exported(export(results["lightgcn"], tmp_path / "out", ann=False))
    assert torch.equal(back.item_emb, results["lightgcn"].item_emb.cpu())
