"""`infogan explore`: a local web app to play with a trained generator's codes.

An ASGI app (FastAPI) with a JSON/PNG API and one static page (infogan/static/explorer.html, no CDN):

    GET /api/runs                       the runs served (one run directory, or every run under a parent)
    GET /api/info?run=R                 codes, categories, image size, data set of run R
    GET /api/generate?run=R&cat1=K&cat2=K...&c1=V&c2=V...&seed=S&scale=N    -> image/png
    GET /api/traverse?run=R&code=I&cat1=K...&c1=V...&seed=S&steps=N   -> image/png (one row)
    GET /api/categories?run=R&code=N&cat1=K...&seed=S   -> image/png, one sample per value of categorical code N
    POST /api/edit?run=R  (body: an image file)  -> Q's codes of the image, the noise that draws it (inversion.py)
                                                    as an `edit` id, the image and its reconstruction

`edit=ID` in place of `seed` makes generate, traverse and categories draw with an edited image's noise, so the
codes move that image.

Categorical codes are cat1..cat{MAX_CAT_CODES} (`category=` is code 1, as before several codes existed),
each 0..K_i-1, unset ones 0; continuous codes are c1..c{MAX_CODES} in [-2, 2], unset ones 0. Bad
parameters get a 422 with a message, never a 500.
Generators are loaded once per run and evaluated under torch.no_grad in eval mode; one 28x28 image takes a
few milliseconds on a CPU.
"""

from __future__ import annotations

import base64
import threading
import uuid
from pathlib import Path

import torch

from infogan.errors import UsageError
from infogan.model.latent import CODE_RANGE
from infogan.serve.encode import load_encoder, read_image_bytes
from infogan.serve.images import encode_png, make_grid, to_uint8
from infogan.serve.inference import (
    categorical_traversal,
    chosen_latent,
    continuous_traversal,
    generate,
    load_generator,
    load_run_config,
)
from infogan.serve.inversion import invert
from infogan.serve.names import load_names
from infogan.serve.pretrained import resolve_run

MAX_CODES = 10  # continuous codes the API accepts (c1..c10); a run with more serves its first ten
MAX_CAT_CODES = 10  # categorical codes the API accepts (cat1..cat10: CelebA's ten); more are held at 0
MAX_EDITS = 64  # edited images whose noise the explorer keeps (the oldest goes first)
MAX_UPLOAD_BYTES = 10_000_000
STATIC = Path(__file__).resolve().parents[1] / "static"  # infogan/static


SEARCH_DEPTH = 3  # folders of runs are searched this deep: runs/<sweep>/seed_N is two levels down


def find_runs(path: str | Path) -> dict[str, Path]:
    """{name: run dir}: `path` itself if it is a run, else every run below it, up to SEARCH_DEPTH folders deep
    (a sweep's seed_N runs included), named by their path below `path` (e.g. "sweep/seed_0")."""
    path = resolve_run(path)
    if not path.is_dir():
        raise UsageError(f"{path} is not a directory: pass a run directory or a folder of runs")

    def is_run(p: Path) -> bool:
        return (p / "config.json").exists() and (
            (p / "generator.safetensors").exists() or (p / "checkpoints" / "last.pt").exists()
        )

    if is_run(path):
        return {path.resolve().name: path}
    runs, folders = {}, [path]
    for _ in range(SEARCH_DEPTH):
        below = [p for folder in folders for p in sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith(".")]
        runs.update({p.relative_to(path).as_posix(): p for p in below if is_run(p)})
        folders = [p for p in below if not is_run(p)]  # a run's own folders hold no runs
    if not runs:
        raise UsageError(f"{path} holds no trained run (a folder with config.json and generator.safetensors)")
    return runs


class ServedRuns:
    """The runs an explorer serves: their directories by name, each generator loaded on first use, and the
    runs that cannot be served with why (the others are served all the same)."""

    def __init__(self, path: str | Path):
        self.dirs = find_runs(path)
        self.broken: dict[str, str] = {}
        for name, run_dir in self.dirs.items():
            try:
                load_run_config(run_dir)
            except UsageError as exc:
                self.broken[name] = str(exc)
        good = [name for name in self.dirs if name not in self.broken]
        if not good:
            raise UsageError(f"no run under {path} can be served: {next(iter(self.broken.values()))}")
        self.default = good[0]
        self.cache: dict[str, torch.nn.Module] = {}
        self.encoders: dict[str, torch.nn.Module] = {}
        self.edits: dict[str, tuple[str, torch.Tensor]] = {}  # edit id -> (run, the noise found [noise_dim])
        self.lock = threading.Lock()  # one generator call at a time: BatchNorm modules are not thread-safe to switch

    def encoder(self, run: str | None) -> torch.nn.Module:
        """The run's D/Q, loaded on first use (503 where the run has no Q weights: a generator-only export)."""
        from fastapi import HTTPException

        name = run or self.default
        self.generator(name)  # the same checks of the name
        if name not in self.encoders:
            try:
                self.encoders[name] = load_encoder(self.dirs[name])
            except UsageError as exc:
                raise HTTPException(503, f"run {name!r} cannot read images: {exc}") from None
        return self.encoders[name]

    def noise(self, run: str | None, edit: str | None) -> torch.Tensor | None:
        """The noise of edited image `edit` (None without one); 422 for an id this explorer does not know."""
        from fastapi import HTTPException

        if edit is None:
            return None
        if edit not in self.edits or self.edits[edit][0] != (run or self.default):
            raise HTTPException(422, f"unknown edit {edit!r} for this run: post the image to /api/edit again")
        return self.edits[edit][1]

    def generator(self, run: str | None) -> torch.nn.Module:
        from fastapi import HTTPException

        name = run or self.default
        if name not in self.dirs:
            raise HTTPException(422, f"unknown run {name!r}; known: {', '.join(self.dirs)}")
        if name not in self.cache and name not in self.broken:
            try:
                self.cache[name] = load_generator(self.dirs[name])
            except UsageError as exc:
                self.broken[name] = str(exc)
        if name in self.broken:
            raise HTTPException(503, f"run {name!r} cannot be served: {self.broken[name]}")
        return self.cache[name]


def continuous_values(gen, codes: dict[int, float | None]) -> dict[int, float]:
    """Every continuous code's value (1-based code -> value): as given, else 0."""
    from fastapi import HTTPException

    given = {i: v for i, v in codes.items() if v is not None}
    extra = [i for i in given if i > gen.spec.continuous]
    if extra:
        raise HTTPException(422, f"this run has {gen.spec.continuous} continuous code(s); got c{extra[0]}")
    return {i: given.get(i, 0.0) for i in range(1, gen.spec.continuous + 1)}


def categorical_values(gen, cats: dict[int, int | None], category: int | None) -> dict[int, int]:
    """Every categorical code's value (1-based code -> value): as given, else 0."""
    from fastapi import HTTPException

    given = {i: v for i, v in cats.items() if v is not None}
    if category is not None:
        if given.get(1, category) != category:
            raise HTTPException(422, f"category={category} and cat1={given[1]} disagree: give one of them")
        given[1] = category
    ks = gen.spec.categorical
    for i, value in given.items():
        if i > len(ks):
            raise HTTPException(
                422, f"this run has {len(ks)} categorical code(s); got {'category' if i == 1 else f'cat{i}'}={value}"
            )
        if value >= ks[i - 1]:
            raise HTTPException(422, f"categorical code {i} takes values 0..{ks[i - 1] - 1}, got {value}")
    return {i: given.get(i, 0) for i in range(1, min(len(ks), MAX_CAT_CODES) + 1)}


def png_response(array, scale: int = 1):
    """An [H, W(, C)] uint8 image as an uncached PNG response, each pixel repeated `scale` times a side."""
    from fastapi import Response

    if scale > 1:
        array = array.repeat(scale, axis=0).repeat(scale, axis=1)
    return Response(encode_png(array), media_type="image/png", headers={"Cache-Control": "no-store"})


def with_code_params(func):
    """Give `func` the query parameters cat1..catMAX and c1..cMAX (documented in OpenAPI) without writing
    them twenty times; it receives them as `cats` and `codes` dicts keyed by the 1-based code."""
    import inspect

    from fastapi import Query

    code_q = {
        f"c{i}": (
            Query(
                None,
                ge=CODE_RANGE[0],
                le=CODE_RANGE[1],
                allow_inf_nan=False,
                description=f"continuous code {i}, in [{CODE_RANGE[0]:g}, {CODE_RANGE[1]:g}] (default: 0)",
            ),
            float | None,
        )
        for i in range(1, MAX_CODES + 1)
    }
    cat_q = {
        f"cat{i}": (Query(None, ge=0, le=999, description=f"categorical code {i}'s value (default: 0)"), int | None)
        for i in range(1, MAX_CAT_CODES + 1)
    }
    sig = inspect.signature(func)
    params = [p for p in sig.parameters.values() if p.name not in ("codes", "cats")]
    params += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=q, annotation=kind)
        for name, (q, kind) in {**cat_q, **code_q}.items()
    ]

    def wrapper(**kwargs):
        cats = {i: kwargs.pop(f"cat{i}") for i in range(1, MAX_CAT_CODES + 1)}
        codes = {i: kwargs.pop(f"c{i}") for i in range(1, MAX_CODES + 1)}
        return func(cats=cats, codes=codes, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params)
    wrapper.__name__, wrapper.__doc__ = func.__name__, func.__doc__
    return wrapper


def create_app(path: str | Path):
    try:
        from fastapi import FastAPI, HTTPException, Query, Response
        from fastapi.responses import FileResponse
    except ImportError:
        raise UsageError("the explorer needs FastAPI and uvicorn: pip install -e '.[explore]'") from None

    runs = ServedRuns(path)
    app = FastAPI(
        title="infogan explorer",
        version="1",
        description="Generate images from a trained InfoGAN generator by choosing its codes.",
    )
    png = {200: {"content": {"image/png": {}}}}
    edit_query = Query(
        None, max_length=32, description="an edited image's id from /api/edit: its noise, not the seed's"
    )

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "explorer.html", media_type="text/html")

    @app.get("/api/runs")
    def list_runs() -> dict:
        """The runs this explorer serves, the default (the first that loads), and those that cannot be served."""
        return {"runs": list(runs.dirs), "default": runs.default, "unavailable": dict(runs.broken)}

    @app.get("/api/info")
    def info(run: str | None = Query(None, description="run name (default: the first)")) -> dict:
        """What a run's generator takes and makes."""
        gen = runs.generator(run)
        cfg, spec = gen.cfg, gen.spec
        return {
            "run": run or runs.default,
            "categorical": list(spec.categorical[:MAX_CAT_CODES]),
            "categories": spec.categorical[0] if spec.categorical else 0,  # code 1's values, as before
            "continuous": min(spec.continuous, MAX_CODES),
            "code_range": list(CODE_RANGE),
            "noise_dim": spec.noise_dim,
            "image_shape": cfg.image_shape,
            "dataset": cfg.dataset,
            "arch": cfg.arch,
            # the categories' names where the run has them (infogan name): code (1-based) -> value -> name
            "names": {str(code): {str(v): name for v, name in per.items()} for code, per in _names(runs, run).items()},
        }

    @app.get("/api/generate", response_class=Response, responses=png)
    @with_code_params
    def generate_image(
        run: str | None = Query(None, description="run name (default: the first)"),
        category: int | None = Query(None, ge=0, description="categorical code 1's value (= cat1)"),
        seed: int = Query(0, ge=0, le=2**31 - 1, description="noise seed"),
        edit: str | None = edit_query,
        scale: int = Query(1, ge=1, le=16, description="integer upscaling of the PNG"),
        cats=None,
        codes=None,
    ):
        """One image for the chosen codes (unset: 0) and noise seed (or an edited image's noise)."""
        gen = runs.generator(run)
        latent = _latent(
            runs, gen, run, seed, edit, categorical_values(gen, cats, category), continuous_values(gen, codes)
        )
        with runs.lock:
            image = generate(gen, latent)
        return png_response(to_uint8(image)[0], scale)

    @app.get("/api/traverse", response_class=Response, responses=png)
    @with_code_params
    def traverse_strip(
        run: str | None = Query(None, description="run name (default: the first)"),
        code: int = Query(1, ge=1, le=MAX_CODES, description="continuous code to vary (1-based)"),
        category: int | None = Query(None, ge=0, description="categorical code 1's value (= cat1)"),
        seed: int = Query(0, ge=0, le=2**31 - 1, description="noise seed"),
        steps: int = Query(9, ge=2, le=32, description="images in the strip"),
        edit: str | None = edit_query,
        scale: int = Query(1, ge=1, le=8, description="integer upscaling of the PNG"),
        cats=None,
        codes=None,
    ):
        """A row of images with code `code` across CODE_RANGE, the other codes as given, noise fixed."""
        gen = runs.generator(run)
        fixed = categorical_values(gen, cats, category)
        values = continuous_values(gen, codes)
        if code > gen.spec.continuous:
            raise HTTPException(422, f"this run has {gen.spec.continuous} continuous code(s); got code={code}")
        base = _latent(runs, gen, run, seed, edit, fixed, values)  # one row: the same noise in every column
        with runs.lock:
            images = to_uint8(continuous_traversal(gen, code, steps=steps, base=base).images)
        return png_response(make_grid(images, 1, steps, pad=1), scale)

    @app.get("/api/categories", response_class=Response, responses=png)
    @with_code_params
    def category_strip(
        run: str | None = Query(None, description="run name (default: the first)"),
        code: int = Query(1, ge=1, le=MAX_CAT_CODES, description="categorical code to show (1-based)"),
        seed: int = Query(0, ge=0, le=2**31 - 1, description="noise seed"),
        edit: str | None = edit_query,
        scale: int = Query(1, ge=1, le=8, description="integer upscaling of the PNG"),
        cats=None,
        codes=None,
    ):
        """One sample per value of categorical code `code`, left to right, the other codes as given (unset: 0),
        the same noise throughout: what the code's buttons show."""
        gen = runs.generator(run)
        if code > gen.spec.n_categorical:
            raise HTTPException(422, f"this run has {gen.spec.n_categorical} categorical code(s); got code={code}")
        base = _latent(runs, gen, run, seed, edit, categorical_values(gen, cats, None), continuous_values(gen, codes))
        with runs.lock:
            images = to_uint8(categorical_traversal(gen, code, base=base).images)
        return png_response(make_grid(images, 1, len(images), pad=0), scale)

    _add_edit_route(app, runs)
    return app


def _names(runs: ServedRuns, run: str | None) -> dict:
    """The run's names, {} where it has none or its names file cannot be read (the explorer serves it anyway)."""
    try:
        return load_names(runs.dirs[run or runs.default])
    except UsageError:
        return {}


def _latent(runs: ServedRuns, gen, run, seed: int, edit: str | None, cats: dict, codes: dict):
    """One latent of the chosen codes, with the seed's noise or edited image `edit`'s."""
    latent = chosen_latent(gen.cfg, 1, seed, cats, codes)
    noise = runs.noise(run, edit)
    if noise is not None:
        latent.z[:] = noise
    return latent


def _data_url(array) -> str:
    return "data:image/png;base64," + base64.b64encode(encode_png(array)).decode()


def _add_edit_route(app, runs: ServedRuns) -> None:
    from fastapi import HTTPException, Query, Request
    from starlette.concurrency import run_in_threadpool

    async def edit_image(request: Request, run: str | None = Query(None, description="run name (default: the first)")):
        """Read an image (the request's body: a PNG, JPEG, ... file) into the run's codes and find the noise
        that draws it (inversion.py). Returns the codes, an `edit` id for the other endpoints, the image as
        read (resized to the run's size) and its reconstruction, and the reconstruction's pixel error."""
        data = await request.body()
        if not data or len(data) > MAX_UPLOAD_BYTES:
            raise HTTPException(422, f"send one image file of at most {MAX_UPLOAD_BYTES:,} bytes as the body")
        gen, encoder = runs.generator(run), runs.encoder(run)
        try:
            image = read_image_bytes(data, tuple(gen.cfg.image_shape))  # uint8 [1, C, H, W]
        except ValueError as exc:
            raise HTTPException(422, f"the body is {exc}: send a PNG or JPEG file") from None

        def search():  # a second of CPU: in a worker thread, so the server keeps answering meanwhile
            with runs.lock:
                return invert(gen, encoder, image)

        found = await run_in_threadpool(search)
        edit = uuid.uuid4().hex[:12]
        runs.edits[edit] = (run or runs.default, found.latent.z[0].clone())
        while len(runs.edits) > MAX_EDITS:
            runs.edits.pop(next(iter(runs.edits)))
        return {
            "edit": edit,
            "categorical": found.latent.cat[0].tolist(),
            "continuous": [round(v, 4) for v in found.latent.cont[0].tolist()],
            "error": round(float(found.error[0]), 5),
            "image": _data_url(image[0].permute(1, 2, 0).numpy()),
            "reconstruction": _data_url(to_uint8(found.reconstruction)[0]),
        }

    # this module's annotations are strings (PEP 563) and FastAPI is imported here only: give it the classes
    edit_image.__annotations__.update(request=Request, run=str | None)
    app.post("/api/edit")(edit_image)


def serve(path: str | Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    app = create_app(path)
    try:
        import uvicorn
    except ImportError:
        raise UsageError("the explorer needs FastAPI and uvicorn: pip install -e '.[explore]'") from None
    _check_port(host, port)
    print(f"infogan explorer: http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _check_port(host: str, port: int) -> None:
    """Bind once before handing the port to uvicorn, so a port in use is one line, not a server log."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): pick another --port") from None
