"""Real-data plugin (cub / oxford102 / coco) on tiny StackGAN-layout trees built in tmp dirs."""

from __future__ import annotations

import itertools
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.data import BatchPlan, EpochBatchSampler, TrainView, identity_collate
from ganzoo.errors import UsageError
from ganzoo.registry import get_registry
from ganzoo_realdata import fixture
from ganzoo_realdata.dataset import make_factory
from ganzoo_realdata.images import augment, crop_box, load_size
from ganzoo_realdata.safe_pickle import PickleLoadError, UnsafePickleError, load_pickle, loads


@pytest.fixture(scope="module")
def birds_tree(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("data") / "birds"
    return root, fixture.make_birds(root, n_train=4, n_test=3)


@pytest.fixture
def birds_copy(birds_tree, tmp_path) -> Path:
    dst = tmp_path / "birds"
    shutil.copytree(birds_tree[0], dst)
    return dst


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))


def cub(root, **kw):
    return make_factory("cub")(data_dir=str(root), **kw)


# ---- registration and options -------------------------------------------------------------
def test_three_datasets_registered_and_need_a_data_dir():
    reg = get_registry()
    for name, folder in (("cub", "birds"), ("oxford102", "flowers"), ("coco", "coco")):
        assert reg.get("dataset", name).plugin == "realdata"
        with pytest.raises(UsageError, match=f"--data-dir PATH .*'{folder}'"):
            reg.dataset(name)
        with pytest.raises(UsageError, match="--data-dir"):
            reg.dataset(name, data_dir=None)


@pytest.mark.parametrize("options, nearest", [
    ({"embeding": "mean4"}, "embedding"),
    ({"cach": "true"}, "cache"),
    ({"datadir": "x"}, "data_dir"),
    ({"seed": 3}, None),  # shapes takes a seed; a real dataset has nothing to seed
])
def test_misspelled_or_unknown_option_is_refused(birds_tree, options, nearest):
    """Every real-data factory refuses a key it does not take (it used to swallow it)."""
    from ganzoo.errors import UnknownKeyError

    for name in ("cub", "oxford102", "coco"):
        with pytest.raises(UnknownKeyError) as info:
            get_registry().dataset(name, data_dir=str(birds_tree[0]), **options)
        assert info.value.key == next(iter(options))
        assert info.value.suggestion == nearest
        assert f"dataset {name}" in str(info.value)


def test_misspelled_dataset_opt_on_the_command_line_exits_2_before_any_work(birds_tree, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", "--model", "gan-int-cls", "--dataset", "cub", "--data-dir",
                                      str(birds_tree[0]), "--dataset-opt", "embeding=mean4", "--steps", "1",
                                      "--device", "cpu", "--no-progress", "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert "'embeding'" in lines[0] and "'embedding'" in lines[0]  # the key and its nearest valid name
    assert not out.exists()


def test_bad_embedding_mode_and_missing_folder(birds_tree, tmp_path):
    with pytest.raises(UsageError, match="random, mean4"):
        cub(birds_tree[0], embedding="mean3")
    with pytest.raises(UsageError, match="does not exist"):
        cub(tmp_path / "nowhere")


# ---- reading the layout ---------------------------------------------------------------------
def test_birds_splits_read_captions_embeddings_and_classes(birds_tree):
    root, info = birds_tree
    ds = cub(root)
    assert ds.name == "cub" and ds.default_text_encoder == "precomputed"
    raw = load_pickle(root / "train" / "char-CNN-RNN-embeddings.pickle")
    for split, n in (("train", 4), ("test", 3)):
        s = ds.split(split)
        assert s.keys == [k for k, _, _ in info[split]]
        assert len(s) == n and tuple(s.caption_ids.shape) == (n, 10)
        assert len(s.captions) == n * 10 and s.placeholder_captions == []
        assert s.precomputed_embeddings.shape == (n * 10, 1024)
        key = s.keys[1]
        expected = (root / "text_c10" / f"{key}.txt").read_text().splitlines()
        assert [s.captions[int(c)] for c in s.caption_ids[1]] == expected
    train = ds.split("train")
    assert train.class_ids == [1, 2, 1, 2] and ds.split("test").class_ids == [3, 3, 3]
    # caption (i, j) <-> embedding row caption_ids[i, j] <-> raw[i, j]
    assert torch.equal(train.precomputed_embeddings[train.caption_ids[2, 7]], torch.from_numpy(raw[2, 7]))


def test_flowers_and_coco_layouts(tmp_path):
    fixture.make_flowers(tmp_path / "flowers", n_train=4, n_test=2)
    ds = make_factory("oxford102")(data_dir=str(tmp_path / "flowers"))
    test = ds.split("test")
    assert test.keys == ["jpg/image_00005", "jpg/image_00006"] and test.class_ids == [7, 7]
    assert test.captions[0] == "this bird image_00005 has feature number 0"  # from text_c10/class_00007/
    assert test.boxes is None and test.load_images([0, 1], 64, False).shape == (2, 3, 64, 64)
    # flowers' fixture stores the embeddings as a list of N (10, 1024) arrays, the other form seen
    raw = load_pickle(tmp_path / "flowers" / "test" / "char-CNN-RNN-embeddings.pickle")
    assert isinstance(raw, list) and torch.equal(test.precomputed_embeddings[13], torch.from_numpy(raw[1][3]))

    fixture.make_coco(tmp_path / "coco", n_train=3, n_test=2)
    coco = make_factory("coco")(data_dir=str(tmp_path / "coco"))
    assert tuple(coco.split("train").caption_ids.shape) == (3, 5)
    assert all("/val2014/" in p for p in coco.split("test").image_paths)
    assert coco.split("test").precomputed_embeddings.shape == (10, 1024)
    assert coco.split("train").load_images([2], 32, True, seed=1).shape == (1, 3, 32, 32)


def test_missing_caption_file_uses_placeholder_only_with_embeddings(birds_copy):
    key = load_pickle(birds_copy / "train" / "filenames.pickle")[2]
    (birds_copy / "text_c10" / f"{key}.txt").unlink()
    with pytest.warns(UserWarning, match="placeholder"):
        s = cub(birds_copy).split("train")
    assert s.placeholder_captions == [key]
    assert [s.captions[int(c)] for c in s.caption_ids[2, :2]] == [f"{key} caption 0", f"{key} caption 1"]
    (birds_copy / "train" / "char-CNN-RNN-embeddings.pickle").unlink()
    with pytest.raises(UsageError, match="fewer than 10 captions"):
        cub(birds_copy)


# ---- safe pickles -------------------------------------------------------------------------------
def test_python2_pickles_load_with_both_numpy_spellings():
    arr = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    py2 = fixture.py2_pickle_bytes([arr, "key/é", 7])
    assert b"numpy.core.multiarray" in py2 and b"_codecs" not in py2
    out = loads(py2)
    assert np.array_equal(out[0], arr) and out[0].dtype == np.float32 and out[1:] == ["key/é", 7]
    for protocol in (2, 5):  # pickles re-saved by Python 3 / numpy 2 (numpy._core, _codecs.encode)
        assert np.array_equal(loads(pickle.dumps(arr, protocol=protocol)), arr)


class _RunsCode:
    def __init__(self, call, arg):
        self.call, self.arg = call, arg

    def __reduce__(self):
        return self.call, (self.arg,)


@pytest.mark.parametrize("call_name", ["os.system", "builtins.eval", "builtins.exec"])
def test_code_running_pickle_is_refused_and_never_runs(birds_copy, tmp_path, call_name):
    marker = tmp_path / "pwned"
    mod, fn = call_name.split(".")
    call = getattr(__import__(mod), fn)
    arg = f"touch {marker}" if mod == "os" else f"open({str(marker)!r}, 'w').close()"
    (birds_copy / "train" / "filenames.pickle").write_bytes(pickle.dumps(_RunsCode(call, arg), protocol=2))
    with pytest.raises(UnsafePickleError) as err:
        cub(birds_copy)
    assert "filenames.pickle" in str(err.value) and f".{fn}" in str(err.value)
    assert not marker.exists()
    result = CliRunner().invoke(cli, ["data", "check", str(birds_copy), "--dataset", "cub"])
    assert result.exit_code == 1 and "[bad-pickle]" in result.output and "filenames.pickle" in result.output
    assert not marker.exists()


def test_non_pickle_file_is_a_clear_error(tmp_path):
    (tmp_path / "x.pickle").write_bytes(b"\x80\x02]q\x00(U\x03ab")  # truncated
    with pytest.raises(PickleLoadError, match="x.pickle"):
        load_pickle(tmp_path / "x.pickle")


# ---- image preprocessing --------------------------------------------------------------------------
def test_crop_box_matches_reference_and_clips():
    assert crop_box(500, 400, (100, 100, 80, 40)) == (80, 60, 200, 180)  # centre (140,120), R = 60
    assert crop_box(100, 100, (0, 0, 50, 50)) == (0, 0, 62, 62)  # clipped at the top-left corner
    assert load_size(64) == 76 and load_size(256) == 304 and load_size(128) == 152


def _red_mask(img: torch.Tensor) -> torch.Tensor:
    r, g, b = ((img + 1) * 127.5)
    return (r > 150) & (b < 100)


def test_cub_crop_is_centred_on_the_bounding_box(birds_tree):
    root, info = birds_tree
    split = cub(root).split("train")
    images = split.load_images(range(4), 64, train=False)
    assert images.shape == (4, 3, 64, 64) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    for img, (_, (w, h), (x, y, bw, bh)) in zip(images, info["train"]):
        # Independent of crop_box: square of side 1.5*max(bw, bh) around the box centre, then 76 px, centre 64.
        side = 1.5 * max(bw, bh)
        scale = 76 / (2 * int(max(bw, bh) * 0.75))
        lo_x = (x - (x + bw / 2 - side / 2)) * scale - 6
        lo_y = (y - (y + bh / 2 - side / 2)) * scale - 6
        ys, xs = torch.nonzero(_red_mask(img), as_tuple=True)
        assert abs(xs.float().mean() - 31.5) < 2.5 and abs(ys.float().mean() - 31.5) < 2.5
        assert abs(xs.min() - lo_x) <= 2.5 and abs(ys.min() - lo_y) <= 2.5
        assert abs(xs.max() - (lo_x + bw * scale - 1)) <= 2.5 and abs(ys.max() - (lo_y + bh * scale - 1)) <= 2.5
        assert not _red_mask(img)[:3, :3].any()  # the corners are background


def test_random_crop_and_flip_are_seeded_and_cover_both_flips():
    src = np.arange(2 * 10 * 10 * 3, dtype=np.int64).reshape(2, 10, 10, 3).astype(np.uint8)
    a, b = augment(src, 8, True, seed=3), augment(src, 8, True, seed=3)
    assert torch.equal(a, b)
    assert torch.equal(augment(src, 8, False, seed=1), augment(src, 8, False, seed=2))
    centre = torch.from_numpy(src[:, 1:9, 1:9]).permute(0, 3, 1, 2).float() / 127.5 - 1
    assert torch.allclose(augment(src, 8, False), centre)
    seen = set()
    for seed in range(30):
        out = augment(src, 8, True, seed=seed)[0]
        for top, left, flip in itertools.product(range(3), range(3), (False, True)):
            win = torch.from_numpy(src[0, top:top + 8, left:left + 8].copy()).permute(2, 0, 1).float() / 127.5 - 1
            if torch.allclose(out, win.flip(-1) if flip else win):
                seen.add((top, left, flip))
                break
        else:
            pytest.fail(f"seed {seed}: output is not a crop/flip of the source")
    assert {f for _, _, f in seen} == {False, True} and len({(t, l) for t, l, _ in seen}) >= 4


def test_load_images_is_deterministic_per_seed(birds_tree):
    split = cub(birds_tree[0]).split("test")
    a = split.load_images([0, 2, 1], 64, True, seed=11)
    assert torch.equal(a, split.load_images([0, 2, 1], 64, True, seed=11))
    assert any(not torch.equal(a, split.load_images([0, 2, 1], 64, True, seed=s)) for s in range(12, 16))


# ---- caption embeddings per batch --------------------------------------------------------------------
def test_random_mode_uses_the_chosen_caption_and_mean4_averages_four(birds_tree):
    root = birds_tree[0]
    plain = cub(root).split("train")
    table = plain.precomputed_embeddings
    rows = plain.text_for_batch(table, [1, 1], [0, 3], seed=5)
    assert torch.equal(rows[0], table[10]) and torch.equal(rows[1], table[13])
    assert not torch.equal(rows[0], rows[1])

    mean4 = cub(root, embedding="mean4").split("train")
    assert mean4.embedding_mode == "mean4"
    out = mean4.text_for_batch(table, [2, 0], [0, 0], seed=9)
    assert torch.equal(out, mean4.text_for_batch(table, [2, 0], [0, 0], seed=9))
    for got, img in zip(out, (2, 0)):
        subsets = [c for c in itertools.combinations(range(10), 4)
                   if torch.allclose(table[img * 10 + torch.tensor(c)].mean(0), got, atol=1e-6)]
        assert len(subsets) == 1
    assert not torch.equal(out, mean4.text_for_batch(table, [2, 0], [0, 0], seed=10))

    view = TrainView(mean4, table, 64)  # the harness path
    batch = view.__getitems__(BatchPlan((2, 0), (0, 0), 9, 0, 0))
    assert torch.equal(batch["text"], out) and batch["images"].shape == (2, 3, 64, 64)


# ---- cache and workers -----------------------------------------------------------------------------------
def test_cache_gives_the_same_images_and_is_reused(birds_tree, tmp_path, monkeypatch):
    root = birds_tree[0]
    plain, cached = cub(root).split("train"), cub(root, cache="true").split("train")
    for train, seed in ((True, 4), (False, 0)):
        assert torch.equal(plain.load_images([3, 0, 1], 64, train, seed), cached.load_images([3, 0, 1], 64, train, seed))
    files = list((tmp_path / "cache" / "realdata").glob("*.npy"))
    assert len(files) == 1 and files[0].name.startswith("cub-train-76-")
    arr = np.load(files[0], allow_pickle=False)
    assert arr.shape == (4, 76, 76, 3) and arr.dtype == np.uint8
    stamp = files[0].stat().st_mtime_ns
    cub(root, cache=True).split("train").load_images([0], 64, True)
    assert files[0].stat().st_mtime_ns == stamp  # reused, not rebuilt
    cached.load_images([0], 32, True)
    assert len(list((tmp_path / "cache" / "realdata").glob("*.npy"))) == 2  # keyed by size

    monkeypatch.delenv("GANZOO_CACHE")
    local = tmp_path / "local"
    shutil.copytree(root, local)
    cub(local, cache=True).split("test").load_images([0], 64, False)
    assert len(list((local / ".ganzoo-cache").glob("cub-test-76-*.npy"))) == 1


def test_split_pickles_small_and_works_in_dataloader_workers(birds_tree):
    split = cub(birds_tree[0], cache=True).split("train")
    table = split.precomputed_embeddings
    split.load_images([0], 64, True)  # opens the memory map
    blob = pickle.dumps(split)
    assert len(blob) < table.numel() * table.element_size() / 4  # neither the embeddings nor the memory map travel
    clone = pickle.loads(blob)
    assert torch.equal(clone.load_images([1, 2], 64, True, 7), split.load_images([1, 2], 64, True, 7))
    assert torch.equal(clone.precomputed_embeddings, table)  # re-read lazily when asked for
    sampler = EpochBatchSampler(len(split), 2, 10, seed=0, max_epochs=1)
    loader = torch.utils.data.DataLoader(TrainView(split, table, 64), batch_sampler=sampler,
                                         collate_fn=identity_collate, num_workers=2)
    batches = list(loader)
    assert len(batches) == 2 and all(b["images"].shape == (2, 3, 64, 64) for b in batches)
    ref = split.load_images(batches[1]["indices"].tolist(), 64, True, sampler.plan_epoch(0)[1].aug_seed)
    assert torch.equal(batches[1]["images"], ref)


# ---- ganzoo data check ----------------------------------------------------------------------------------------
def _check(path, dataset="cub"):
    return CliRunner().invoke(cli, ["data", "check", str(path), "--dataset", dataset, "--limit", "0"])


def test_data_check_passes_a_complete_folder(birds_tree, tmp_path):
    result = _check(birds_tree[0])
    assert result.exit_code == 0, result.output
    assert "OK:" in result.output and "train: 4 filenames, 4x10x1024 embeddings" in result.output
    fixture.make_flowers(tmp_path / "flowers")
    assert _check(tmp_path / "flowers", "oxford102").exit_code == 0


def test_data_check_unknown_dataset_exits_2_with_valid_names(birds_tree):
    result = _check(birds_tree[0], "birdz")
    assert result.exit_code == 2 and "coco, cub, oxford102" in result.output


def _truncate_image(root, key):
    path = root / "CUB_200_2011" / "images" / f"{key}.jpg"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _delete_image(root, key):
    (root / "CUB_200_2011" / "images" / f"{key}.jpg").unlink()


def _embeddings(root, arr):
    fixture.write_py2_pickle(arr, root / "train" / "char-CNN-RNN-embeddings.pickle")


DAMAGE = {
    "missing-image": (_delete_image, "{key}"),
    "bad-image": (_truncate_image, "truncated"),
    "count-mismatch": (lambda r, k: _embeddings(r, np.zeros((3, 10, 1024), np.float32)), "3 embedding rows but 4"),
    "embedding-shape": (lambda r, k: _embeddings(r, np.zeros((40, 1024), np.float32)), "found ndim 2"),
    "missing-file": (lambda r, k: (r / "train" / "filenames.pickle").unlink(), "filenames.pickle"),
    "missing-captions": (lambda r, k: (r / "text_c10" / f"{k}.txt").unlink(), "{key}"),
    "short-captions": (lambda r, k: (r / "text_c10" / f"{k}.txt").write_text("one\n"), "has 1 captions"),
    "bad-boxes": (lambda r, k: (r / "CUB_200_2011" / "bounding_boxes.txt").write_text("1 10 ten 5 5\n"),
                  "bounding_boxes.txt:1"),
    "missing-box": (lambda r, k: (r / "CUB_200_2011" / "bounding_boxes.txt").write_text(
        "".join(line for line in (r / "CUB_200_2011" / "bounding_boxes.txt").read_text().splitlines(True)
                if not line.startswith("2 "))), "{key}"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_data_check_reports_each_kind_of_damage(birds_copy, kind):
    key = load_pickle(birds_copy / "train" / "filenames.pickle")[1]  # image id 2
    damage, needle = DAMAGE[kind]
    damage(birds_copy, key)
    result = _check(birds_copy)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith(f"[{kind}]")]
    assert lines and needle.format(key=key) in lines[0], result.output
    assert "FAILED:" in result.output and f"1 {kind}" in result.output.splitlines()[-1]
