import pytest


@pytest.fixture
def ratings(tmp_path):
    """A small ratings file with string ids: 30 users, 40 items, a header."""
    lines = ["user\titem\trating"]
    for u in range(30):
        for i in range(u % 7, 40, 3):
            lines.append(f"u{u}\ti{i}\t5")
    path = tmp_path / "ratings.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path
