"""Phone photos of the test scans (`scanmaker`) in situations people photograph notes in: a
notebook's margin beside the writing, a sheet seen askew on a desk (a wooden one too) or from
below its middle, a soft shadow, a finger holding the sheet, a table's rules round the number, the
lens's dark corners, a pen lying on the paper, dust and dots of ink over the paper, the holes
punched in loose-leaf paper, a spiral notebook's binding, a fold's crease; and the writing in
chalk on a blackboard, in marker on a whiteboard under a lamp's glare, in red or green ink or on
brown kraft paper, out of focus, shaken, or saved as a JPEG at a quality a messenger might use.

Only tests and benchmarks use this; drawn with Pillow and NumPy alone, independently of digitlab."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tests.scanmaker import writing_pixels


def with_margin(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A notebook page's margin: a red or pink line ruled down the page a little askew, left of
    the writing (the photo widened on the left where the writing comes near its edge)."""
    _, cols = writing_pixels(scan)
    first = int(cols.min()) if len(cols) else scan.width // 2
    gap = int(rng.uniform(0.03, 0.1) * scan.width)
    if first < gap + 0.05 * scan.width:
        added = int(gap + rng.uniform(0.05, 0.15) * scan.width) - first
        scan, first = widened(scan, (0, 0, added, 0)), first + added
    width, height = scan.size
    drift = rng.uniform(-0.015, 0.015) * height  # the line's run across the photo's height
    x = rng.uniform(0.02 * width + abs(drift), first - gap - abs(drift))
    colour = (int(rng.integers(200, 245)), int(rng.integers(50, 150)), int(rng.integers(60, 160)))
    out = scan.convert("RGB")
    ImageDraw.Draw(out).line([(x - drift / 2, 0), (x + drift / 2, height)], fill=colour,
                             width=max(1, int(width * rng.uniform(0.002, 0.005))))
    return out


def widened(scan: Image.Image, pad: tuple[int, int, int, int]) -> Image.Image:
    """A photo of paper with more of the paper round it: `pad` pixels (top, bottom, left, right)
    of the paper's colour as its edges show it, the light's gradient running on (a plane fitted
    to the edges' colours) and its grain as noisy as theirs."""
    rgb = np.asarray(scan.convert("RGB"), dtype=np.float32)
    height, width = rgb.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width]
    edge = np.zeros((height, width), dtype=bool)
    edge[[0, -1]], edge[:, [0, -1]] = True, True
    design = np.stack([xs[edge], ys[edge], np.ones(edge.sum())], 1)
    plane, *_ = np.linalg.lstsq(design, rgb[edge], rcond=None)
    grain = float(np.median(np.abs(rgb[edge] - design @ plane))) * 1.4826
    ys, xs = np.mgrid[-pad[0]:height + pad[1], -pad[2]:width + pad[3]]
    out = np.stack([xs, ys, np.ones_like(xs)], -1) @ plane
    out += np.random.default_rng(height * width).normal(0, grain, out.shape)
    out[pad[0]:pad[0] + height, pad[2]:pad[2] + width] = rgb
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")


def perspective_map(seen_at: list[tuple[float, float]], corners: list[tuple[float, float]]) -> tuple:
    """Pillow's PERSPECTIVE coefficients for a photo whose `corners` are seen at `seen_at`: Pillow
    maps each output pixel to an input one, so the map goes from where they are seen back to them."""
    rows = []
    for (u, v), (x, y) in zip(seen_at, corners):
        rows.append([u, v, 1, 0, 0, 0, -x * u, -x * v])
        rows.append([0, 0, 0, u, v, 1, -y * u, -y * v])
    return tuple(np.linalg.solve(np.array(rows, dtype=np.float64), np.array(corners, dtype=np.float64).ravel()))


def askew_on_desk(scan: Image.Image, rng: np.random.Generator, wooden: bool = False) -> Image.Image:
    """The photo of a sheet as a phone held not quite square to it sees it: the sheet a four-sided
    shape (each corner pulled in by up to a sixth of the photo) on a dark desk, or on a `wooden`
    one (`wood_grain`). The sheet is the photo `widened` by up to a tenth each way: writing keeps
    off a sheet's edge, whereas a photo may be cropped close to it."""
    scan = widened(scan, tuple(int(rng.uniform(0.05, 0.1) * side)
                               for side in (scan.height, scan.height, scan.width, scan.width)))
    width, height = scan.size
    corners = [(0, 0), (width, 0), (width, height), (0, height)]
    inward = [(1, 1), (-1, 1), (-1, -1), (1, -1)]
    pulled = [(x + dx * rng.uniform(0.0, 1 / 6) * width, y + dy * rng.uniform(0.0, 1 / 6) * height)
              for (x, y), (dx, dy) in zip(corners, inward)]
    desk = tuple(int(v) for v in rng.integers(20, 90, 3))
    seen = scan.convert("RGB").transform(scan.size, Image.Transform.PERSPECTIVE, perspective_map(pulled, corners),
                                         Image.Resampling.BILINEAR, fillcolor=desk)
    seen = np.asarray(seen, dtype=np.float32)
    if wooden:
        sheet = Image.new("L", scan.size, 255).transform(scan.size, Image.Transform.PERSPECTIVE,
                                                          perspective_map(pulled, corners), fillcolor=0)
        seen = np.where(np.asarray(sheet)[..., None] > 127, seen, wood_grain((height, width), rng))
    grain = rng.normal(0, 4, (height, width, 1))  # the desk's grain and the camera's noise
    return Image.fromarray(np.clip(seen + grain, 0, 255).astype(np.uint8), "RGB")


def on_wooden_desk(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """`askew_on_desk`, the desk wooden."""
    return askew_on_desk(scan, rng, wooden=True)


def wood_grain(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A wooden desk's top, RGB floats: a brown, streaked along a random direction by smoothed
    noise 10-40 levels strong, the streaks waving gently as a board's grain does."""
    height, width = shape
    brown = rng.integers(60, 150, 3).astype(np.float32) * np.array([1.0, 0.75, 0.5], dtype=np.float32)
    strength, direction = rng.uniform(10, 40), rng.uniform(0, np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    along = xs * np.cos(direction) + ys * np.sin(direction)
    across = ys * np.cos(direction) - xs * np.sin(direction) + 8 * np.sin(along / 120)
    streaks = np.convolve(rng.normal(0, 1, 2 * (height + width) + 64), np.hanning(13), mode="same")
    streaks = streaks[np.clip((across + width + height // 2).astype(np.int64), 0, streaks.size - 1)]
    return brown + strength * (streaks / (streaks.std() + 1e-6))[..., None]


def from_below(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The photo of a sheet taken from below its middle, the phone tilted up to it: the sheet's
    top a fifth to a half narrower than its bottom, so that its upright lines fan out, and the
    desk in the corners it leaves."""
    width, height = scan.size
    inset = rng.uniform(0.1, 0.25) * width
    corners = [(0, 0), (width, 0), (width, height), (0, height)]
    seen_at = [(inset, 0), (width - inset, 0), (width, height), (0, height)]
    desk = tuple(int(v) for v in rng.integers(150, 230, 3))
    return scan.convert("RGB").transform(scan.size, Image.Transform.PERSPECTIVE, perspective_map(seen_at, corners),
                                         Image.Resampling.BILINEAR, fillcolor=desk)


def in_shadow(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A soft round shadow (the phone's, or the hand's holding it) over part of the writing: its
    edge, blurred over up to a twentieth of the photo, runs through the writing."""
    rgb = np.asarray(scan.convert("RGB"), dtype=np.float32)
    height, width = rgb.shape[:2]
    gray = rgb.mean(axis=2)
    ys, xs = np.nonzero(gray < np.median(gray) - 60)
    k = int(rng.integers(len(ys))) if len(ys) else 0
    through = (ys[k], xs[k]) if len(ys) else (height / 2, width / 2)
    radius, turn = rng.uniform(0.3, 0.6) * width, rng.uniform(0, 2 * np.pi)
    centre = through[0] + radius * np.sin(turn), through[1] + radius * np.cos(turn)
    yy, xx = np.mgrid[0:height, 0:width]
    inside = 1 / (1 + np.exp((np.hypot(yy - centre[0], xx - centre[1]) - radius) / (rng.uniform(0.005, 0.05) * width)))
    shade = 1 - rng.uniform(0.3, 0.55) * inside
    return Image.fromarray(np.clip(rgb * shade[..., None], 0, 255).astype(np.uint8), "RGB")


def with_finger(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A fingertip (or a thumb) holding the sheet: a rounded, shaded bar in a skin tone reaching in
    from one edge of the photo, clear of the writing (the photo widened on that side where the
    writing comes near it)."""
    rows, cols = writing_pixels(scan)
    side = int(rng.integers(4))  # top, bottom, left, right
    across = scan.height if side < 2 else scan.width  # the photo's size across that edge
    radius = rng.uniform(0.05, 0.11) * min(scan.size)
    reach = rng.uniform(0.08, 0.2) * across
    if len(rows):
        room = {0: rows.min(), 1: scan.height - 1 - rows.max(), 2: cols.min(), 3: scan.width - 1 - cols.max()}[side]
        short = int(reach + radius * 1.5 - room)
        if short > 0:
            scan = widened(scan, tuple(short if k == side else 0 for k in range(4)))
    rgb = np.asarray(scan.convert("RGB"), dtype=np.float32)
    height, width = rgb.shape[:2]
    across, along = (height, width) if side < 2 else (width, height)
    at, lean = rng.uniform(0.2, 0.8) * along, rng.uniform(-0.4, 0.4)
    depth = {0: reach, 1: height - reach, 2: reach, 3: width - reach}[side]
    base = {0: -across, 1: 2 * across, 2: -across, 3: 2 * across}[side]
    tip, root = (depth, at), (base, at + lean * abs(base - depth))
    if side >= 2:
        tip, root = (at, depth), (at + lean * abs(base - depth), base)
    yy, xx = np.mgrid[0:height, 0:width]
    p, d = np.array(tip), np.array(root) - np.array(tip)
    t = np.clip(((yy - p[0]) * d[0] + (xx - p[1]) * d[1]) / (d @ d), 0, 1)
    distance = np.hypot(yy - p[0] - t * d[0], xx - p[1] - t * d[1])
    cover = 0.5 * (1 - np.tanh((distance - radius) / max(2.0, 0.06 * radius)))[..., None]  # a soft edge
    skin = np.array([rng.uniform(150, 235), rng.uniform(105, 175), rng.uniform(80, 145)])
    shaded = skin * (1 - 0.35 * np.clip(distance / radius, 0, 1) ** 2)[..., None]
    return Image.fromarray(np.clip(rgb * (1 - cover) + shaded * cover, 0, 255).astype(np.uint8), "RGB")


def in_table(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The number in a cell of a ruled table (a form, a score sheet): printed rules clear of the
    writing, the cell's and its neighbours', right across the photo both ways."""
    rows, cols = writing_pixels(scan)
    if not len(rows):
        return scan
    out = scan.convert("RGB")
    draw = ImageDraw.Draw(out)
    colour = tuple(int(v) for v in rng.integers(30, 130, 3))
    pen = max(1, int(scan.width * rng.uniform(0.002, 0.004)))
    pad = rng.uniform(0.05, 0.15) * scan.height
    top, bottom = rows.min() - pad, rows.max() + pad
    left, right = cols.min() - pad, cols.max() + pad
    cell = rng.uniform(0.6, 1.0) * (right - left)
    for k in range(-3, 5):
        y = top + k * (bottom - top)
        draw.line([(0, y), (scan.width, y)], fill=colour, width=pen)
    for x in (left - cell, left, right, right + cell):
        draw.line([(x, 0), (x, scan.height)], fill=colour, width=pen)
    return out


def vignetted(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The lens's dark corners: the light falling off from the photo's middle, to between a third
    and two thirds darker in its corners (a phone in poor light, a cheap webcam)."""
    rgb = np.asarray(scan.convert("RGB"), dtype=np.float32)
    height, width = rgb.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width]
    reach = np.hypot((yy - height / 2) / (height / 2), (xx - width / 2) / (width / 2)) / np.sqrt(2)
    shade = 1 - rng.uniform(0.3, 0.65) * reach ** 2
    return Image.fromarray(np.clip(rgb * shade[..., None], 0, 255).astype(np.uint8), "RGB")


def with_pen(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A pen or pencil lying on the paper, clear of the writing: a straight, round-ended bar a
    third to two thirds of the photo long, at any angle, in a pen's colour with a highlight along
    it (the photo widened below the writing when no place is clear)."""
    rows, cols = writing_pixels(scan)
    for attempt in range(60):
        if attempt == 30 and len(rows):  # no room: lay it on paper added below the writing
            scan = widened(scan, (0, int(0.45 * scan.height), 0, 0))
        width, height = scan.size
        length = rng.uniform(0.35, 0.7) * width
        thick = max(2.0, rng.uniform(0.008, 0.035) * width)
        turn = rng.uniform(0, np.pi)
        half = np.array([np.cos(turn), np.sin(turn)]) * length / 2
        low = min(rows.max() + 2 * thick, 0.85 * height) if attempt >= 30 and len(rows) else 0
        centre = np.array([rng.uniform(0.2, 0.8) * width, rng.uniform(max(low, 0.1 * height), 0.9 * height)])
        start, end = centre - half, centre + half
        if len(rows):
            along = np.clip(((cols - start[0]) * (end - start)[0] + (rows - start[1]) * (end - start)[1])
                            / (length ** 2), 0, 1)
            gap = np.hypot(cols - start[0] - along * (end - start)[0], rows - start[1] - along * (end - start)[1])
            if gap.min() < thick + 0.03 * width:
                continue
        out = scan.convert("RGB")
        draw = ImageDraw.Draw(out)
        colour = np.array(rng.choice([[25, 35, 120], [15, 15, 15], [190, 30, 30], [30, 120, 45], [225, 190, 40],
                                      [170, 170, 175]]))
        draw.line([tuple(start), tuple(end)], fill=tuple(int(v) for v in colour), width=int(thick), joint="curve")
        for tip in (start, end):
            draw.ellipse([tip[0] - thick / 2, tip[1] - thick / 2, tip[0] + thick / 2, tip[1] + thick / 2],
                         fill=tuple(int(v) for v in colour))
        shine = tuple(int(v) for v in np.minimum(colour + 90, 255))
        offset = np.array([-np.sin(turn), np.cos(turn)]) * thick * 0.2
        draw.line([tuple(start + offset), tuple(end + offset)], fill=shine, width=max(1, int(thick / 5)))
        return out
    return scan


def with_dust(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Dust, crumbs and dots of ink over the paper: 5-30 dark specks anywhere on the photo (on
    the writing too), round or oblong, from a pixel to about a fifth of the digits' height long,
    in the writing's colours or greyer."""
    out = scan.convert("RGB")
    draw = ImageDraw.Draw(out)
    width, height = out.size
    for _ in range(int(rng.integers(5, 31))):
        centre = np.array([rng.uniform(0, width), rng.uniform(0, height)])
        across = rng.uniform(1, max(2.0, width / 80))
        long = across * rng.uniform(1, 1.8)
        turn = rng.uniform(0, np.pi)
        along = np.array([np.cos(turn), np.sin(turn)]) * long / 2
        side = np.array([-np.sin(turn), np.cos(turn)]) * across / 2
        octagon = [tuple(centre + np.cos(k * np.pi / 4) * along + np.sin(k * np.pi / 4) * side) for k in range(8)]
        draw.polygon(octagon, fill=tuple(int(v) for v in rng.integers(10, 110, 3)))
    return out


def with_holes(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Loose-leaf paper: 2-3 holes punched down the page left of the writing, each about as wide
    as the writing is high (a 6 mm hole, 5-8 mm handwriting), the dark desk seen through them; the
    writing starts at least half a hole's width right of them (the photo widened on the left where
    it comes nearer its edge)."""
    # The writing: far darker than ruled lines, printed fainter than any pen.
    gray = np.asarray(scan.convert("L"), dtype=np.float32)
    away = np.abs(gray - np.median(gray))
    rows, cols = np.nonzero(away > 0.6 * np.percentile(away, 99.9))
    tall = int(rows.max() - rows.min() + 1) if len(rows) else scan.height // 5
    first = int(cols.min()) if len(cols) else scan.width // 2
    radius = rng.uniform(0.25, 0.5) * tall
    centre = radius + rng.uniform(0.01, 0.03) * scan.width
    room = int(centre + radius * rng.uniform(2, 4))
    if first < room:
        scan = widened(scan, (0, 0, room - first, 0))
    out = scan.convert("RGB")
    draw = ImageDraw.Draw(out)
    count = int(rng.integers(2, 4))
    desk = tuple(int(v) for v in rng.integers(20, 90, 3))
    for k in range(count):
        y = out.height * (k + 0.5) / count + rng.uniform(-0.05, 0.05) * out.height
        draw.ellipse([centre - radius, y - radius, centre + radius, y + radius], fill=desk)
    return out


def with_binding(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A spiral-bound notebook's page photographed with its binding in view: along the top (or,
    photographed the other way, the left) edge a row of punched holes, round or square, 3-6 % of
    the side apart, their middles half that and 2-8 % of the side in from the edge, the desk dark
    through them; through each, half the time, a loop of the wire running out over the edge. The
    row is up to 3 degrees off the edge; the photo is widened on that side where the writing comes
    near it."""
    left = rng.random() < 0.4
    if left:  # drawn along the top of the photo turned a quarter, then turned back
        scan = scan.transpose(Image.Transpose.ROTATE_270)
    rows, _ = writing_pixels(scan)
    first = int(rows.min()) if len(rows) else scan.height // 2
    pitch = rng.uniform(0.03, 0.06) * scan.width
    depth = rng.uniform(0.02, 0.08) * scan.height + pitch / 2
    room = int(depth + pitch * rng.uniform(0.6, 1.5))
    if first < room:
        scan = widened(scan, (room - first, 0, 0, 0))
    out = scan.convert("RGB")
    draw = ImageDraw.Draw(out)
    desk = tuple(int(v) for v in rng.integers(20, 90, 3))
    wire = tuple([int(rng.integers(60, 170))] * 3) if rng.random() < 0.5 else None
    square = rng.random() < 0.4
    radius = pitch * rng.uniform(0.18, 0.3)
    slope = np.tan(np.radians(rng.uniform(-3, 3)))
    x = pitch * rng.uniform(0.3, 1.0)
    while x < out.width:
        y = depth + slope * (x - out.width / 2)
        hole = [x - radius, y - radius, x + radius, y + radius]
        if square:
            draw.rounded_rectangle(hole, radius=radius * 0.3, fill=desk)
        else:
            draw.ellipse(hole, fill=desk)
        if wire is not None:
            draw.line([(x, y), (x + pitch * 0.15, 0)], fill=wire, width=max(1, int(radius * 0.35)))
        x += pitch
    return out.transpose(Image.Transpose.ROTATE_90) if left else out


def ink_coverage(scan: Image.Image) -> np.ndarray:
    """How much of each pixel of a scan the writing covers (0: paper, 1: the darkest writing): its
    darkness below the paper's own light: the light of each block a twelfth of the scan wide
    (wider than any stroke, so a bold one is not taken for paper) as its 90th percentile, which
    its grain and any writing in it leave to the paper, smoothed."""
    gray = np.asarray(scan.convert("L"), dtype=np.float32)
    height, width = gray.shape
    side = max(16, min(height, width) // 12)
    blocks = gray[:height // side * side, :width // side * side].reshape(height // side, side, width // side,
                                                                         side).transpose(0, 2, 1, 3)
    blocks = np.percentile(blocks.reshape(blocks.shape[0], blocks.shape[1], -1), 90, axis=2).astype(np.float32)
    paper = np.asarray(Image.fromarray(blocks).resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    darkest = float(np.percentile(gray, 0.5))
    coverage = np.clip((paper - gray) / max(1.0, float(np.median(paper)) - darkest), 0, 1)
    return np.clip((coverage - 0.15) / 0.85, 0, 1)  # the paper's grain and faint ruling stay paper


def recoloured(coverage: np.ndarray, paper: np.ndarray, ink: tuple, rng: np.random.Generator) -> Image.Image:
    """`coverage` in `ink` over `paper` (an RGB array, or one colour), with a camera's noise."""
    rgb = np.broadcast_to(np.asarray(paper, np.float32), coverage.shape + (3,)) * (1 - coverage[..., None])
    rgb = rgb + np.asarray(ink, np.float32) * coverage[..., None] + rng.normal(0, 4, coverage.shape + (3,))
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def smudges(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """Broad, soft light and dark patches (old chalk wiped off a board), -strength..strength."""
    noise = Image.fromarray(rng.integers(0, 256, (max(2, shape[0] // 96), max(2, shape[1] // 96))).astype(np.uint8))
    soft = np.asarray(noise.resize(shape[::-1], Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(8)),
                      dtype=np.float32)
    return (soft - soft.mean()) / (np.abs(soft - soft.mean()).max() + 1e-6) * strength


def on_blackboard(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The number in chalk on a blackboard: light, patchy strokes on dark green, grey or black,
    with the smudges of wiped-off chalk."""
    coverage = ink_coverage(scan) * rng.uniform(0.45, 1.0, (scan.height, scan.width)).astype(np.float32)
    board = np.array([(40, 62, 50), (55, 58, 60), (25, 27, 30)][int(rng.integers(0, 3))], np.float32)
    paper = board + smudges((scan.height, scan.width), rng, float(rng.uniform(6, 15)))[..., None]
    return recoloured(coverage, paper, tuple(int(v) for v in rng.integers(205, 240, 3)), rng)


def on_whiteboard(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The number in marker on a whiteboard, greyish white, with the glare of a lamp: a bright
    spot somewhere on the photo, fading out over a fifth to two fifths of its width."""
    height, width = scan.height, scan.width
    ys, xs = np.mgrid[0:height, 0:width]
    spot = np.exp(-((xs - rng.uniform(0, width)) ** 2 + (ys - rng.uniform(0, height)) ** 2)
                  / (2 * (rng.uniform(0.2, 0.4) * width) ** 2))
    paper = np.array([195, 200, 205], np.float32) + rng.uniform(40, 60) * spot[..., None]
    ink = [(30, 60, 160), (25, 25, 30), (190, 35, 40), (30, 120, 60)][int(rng.integers(0, 4))]
    return recoloured(ink_coverage(scan), paper, ink, rng)


def in_coloured_ink(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The number in red or green ink on white paper, or on brown kraft paper in those or a dark
    ink."""
    paper = (245, 245, 240) if rng.random() < 0.5 else (165, 125, 85)
    ink = [(200, 30, 40), (30, 130, 60), (35, 30, 30)][int(rng.integers(0, 3 if paper[0] < 200 else 2))]
    return recoloured(ink_coverage(scan), np.array(paper, np.float32), ink, rng)


def out_of_focus(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A photo the phone did not focus: blurred by 0.4-1% of its width."""
    return scan.convert("RGB").filter(ImageFilter.GaussianBlur(rng.uniform(0.004, 0.01) * scan.width))


def shaken(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A phone moved while the shutter was open: each point smeared along a line 1-2.5% of the
    photo's width, up and down (7 times in 10) or across."""
    rgb = np.asarray(scan.convert("RGB"), dtype=np.float32)
    length = max(2, int(rng.uniform(0.01, 0.025) * scan.width))
    axis = int(rng.random() < 0.3)
    edge = [(0, 0)] * 3
    edge[axis] = (length, length)
    padded = np.pad(rgb, edge, mode="edge")
    running = np.cumsum(padded, axis=axis)  # a moving average as the difference of running sums
    ahead = np.take(running, np.arange(length, padded.shape[axis]), axis=axis)
    behind = np.take(running, np.arange(0, padded.shape[axis] - length), axis=axis)
    smeared = np.take((ahead - behind) / length, np.arange(length // 2, length // 2 + rgb.shape[axis]), axis=axis)
    return Image.fromarray(np.clip(smeared, 0, 255).astype(np.uint8), "RGB")


def compressed_hard(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A photo saved (or sent through a messenger) as a JPEG at quality 5-15: blocks and ringing."""
    buffer = io.BytesIO()
    scan.convert("RGB").save(buffer, "JPEG", quality=int(rng.integers(5, 16)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def with_crease(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Paper that was folded: one or two creases straight across the photo at any angle, each a
    fine dark line (the fold's shadow) with a faint light edge beside it, the paper on one side of
    it a little darker (turned a little away from the light)."""
    rgb = np.asarray(scan.convert("RGB"), dtype=np.float32)
    height, width = rgb.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(int(rng.integers(1, 3))):
        angle = float(rng.uniform(0, np.pi))
        x, y = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
        across = (xs - x) * np.sin(angle) - (ys - y) * np.cos(angle)
        line_width, dark = float(rng.uniform(0.8, 2.5)), float(rng.uniform(0.1, 0.35))
        side = np.where(across > 0, 1.0, 1.0 - float(rng.uniform(0.0, 0.12)))
        shadow, edge = np.exp(-(across / line_width) ** 2), np.exp(-((across - 2.5 * line_width) / line_width) ** 2)
        fold = 1.0 - dark * shadow + 0.06 * edge
        rgb = rgb * (side * fold)[..., None]
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def with_show_through(scan: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Thin paper written on both sides: the back's writing shows through, mirrored, blurred by
    the paper and a tenth to a fifth as dark as the ink. The back holds this side's own writing,
    mirrored left to right and moved up or down by up to a tenth of the photo."""
    rgb = np.asarray(scan.convert("RGB"), dtype=np.float32)
    gray = rgb.mean(axis=2)
    paper = float(np.percentile(gray, 90))
    coverage = np.clip((paper - gray) / max(paper - float(gray.min()), 1.0), 0.0, 1.0)
    back = np.roll(coverage[:, ::-1], int(rng.uniform(-0.1, 0.1) * gray.shape[0]), axis=0)
    blurred = np.asarray(Image.fromarray((back * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(float(rng.uniform(1.0, 2.5)))), dtype=np.float32) / 255
    ghost = 1.0 - float(rng.uniform(0.1, 0.2)) * blurred
    return Image.fromarray(np.clip(rgb * ghost[..., None], 0, 255).astype(np.uint8), "RGB")
