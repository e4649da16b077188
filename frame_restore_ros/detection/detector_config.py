"""The failure detector's settings: every threshold with its default, and their checks.

Each field's comment says what it decides and how its default was measured; docs/detection.md
has the measurements. A :class:`DetectorConfig` is immutable in practice (the detector reads it
every frame) and compared field by field, its defect mask by content.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

DEFAULT_CAST_COLOURS = ((128, 128, 128), (0, 135, 0))  # BGR fills of broken H.264/MJPEG decoders


@dataclass(eq=False)
class DetectorConfig:
    """Thresholds of the failure detector (0-255 scale for intensities; see docs/detection.md).

    A failure is an onset: a cell is flagged when a class's signature appears where nothing like
    it was within ``onset_reach`` cells in the previous frame, and it stays flagged while the
    signature persists, for at most ``max_hold_frames`` frames. Onsets wait until
    ``onset_warmup_frames`` frames have been seen since the start or the last reset, and (unless
    it is 0) for one frame after a scene cut.
    """

    cell: int = 8
    onset_reach: int = 2
    onset_memory_frames: int = 8
    onset_warmup_frames: int = 3
    max_hold_frames: int = 30
    # A failure held past max_hold_frames is absorbed as scene; for this many frames after it
    # was last absorbed, its cells start no blockage (the scene coming back is its end).
    absorbed_recovery_frames: int = 2
    # A failure's end is a return (look_return.py): a cell whose level jumps by more than
    # return_jump in a frame, away from a look it held without such a jump for at least
    # return_steady_frames frames, back to within return_level of the level it showed just
    # before that look began (or return_share of the jump that began it), starts no onset for
    # absorbed_recovery_frames frames. 0 frames: off.
    return_jump: float = 10.0
    return_steady_frames: int = 8
    return_level: float = 12.0
    return_share: float = 0.35
    # ... unless its texture fell under this share of the look's (a failure hides detail).
    return_detail_share: float = 0.5
    cut_level: float = 25.0
    cut_ratio: float = 0.5
    # ... or the unfailed part of the frame is new too (scene_cut.py): of the cells lit
    # >= cut_lit_gray a frame ago that do not look failed now, at least cut_new_share match
    # no level near theirs (cut_new_level_ratio of it, between cut_new_level_floor and
    # cut_new_level) in any cell within 2 a frame ago, and cut_new_spread of those cells lie
    # near a new one; only after a frame with at least cut_min_lit_share of its cells lit.
    cut_new_level: float = 12.0
    cut_new_level_ratio: float = 0.25
    cut_new_level_floor: float = 4.0
    cut_new_share: float = 0.3
    cut_new_spread: float = 0.8
    cut_lit_gray: float = 24.0
    cut_min_lit_share: float = 0.25
    # ... or, where those levels moved in place in cut_new_share of the cells, at least
    # cut_structure_share of the textured blocks of such cells match nothing near them a frame
    # ago by normalised correlation (scene_cut.new_structure_everywhere: dusk, flat light;
    # 0 = off).
    cut_structure_share: float = 0.6
    dead_max_gray: float = 10.0
    dead_max_texture: float = 14.0
    dead_novel_margin: float = 20.0
    dead_novel_ratio: float = 2.5
    dead_novel_min_step: float = 8.0
    dead_scene_share: float = 0.5
    dead_new_edge_reach: float = 0.02
    dead_new_edge_px: int = 16
    # A new dark region of at least this many cells, each darker than its own past, with a new
    # border against lit content, is an onset even beside dark scene (night). 0: off.
    dead_region_min_cells: int = 2
    # ... of cells at most this textured (a dead block is flat black: a dark coat or car body
    # at dusk carries 4.5-6 of texture, the injected blocks 1.7-2.9) ...
    dead_region_max_texture: float = 3.5
    # ... whose new border is at least this share of its lit border (a dark object moving in
    # brings most of its edge along), and whose pixels now correlate with theirs a frame ago
    # below this (a light that dimmed keeps the structure under it; a block replaces it).
    dead_region_new_share: float = 0.25
    dead_region_max_correlation: float = 0.3
    dead_region_shift_px: int = 3
    # ... and whose patch (with its border) matches nothing within an object's motion in the
    # previous frame this well (a dark object that moved brings its outline along).
    dead_region_max_match: float = 0.7
    # ... at a place that held a dark object: its pixels there were darker than the rest of
    # the patch by at least this share of how much darker they are now, or the region is now
    # less than ``dead_region_match_darker`` times darker than they were (from the codec's
    # black floor, +2; both gain-scaled). A dark object brings its contrast along, or its own
    # darkness where the background changed (a dark car driving from dark bushes onto a lit
    # road); the injected night blocks (0-2 in road at 10-16) matched dim shades of the road
    # 2.5 levels below it (7-10) at 0.72-0.83. Contrast 0: any place; darker 0: the
    # contrast alone.
    dead_region_match_contrast: float = 0.5
    dead_region_match_darker: float = 2.0
    # ... searched this share of the frame height around it per nominal frame (a coat walking
    # across a near camera moves 14 % of the height).
    dead_region_match_reach: float = 0.15
    # Dark scene joined to a new dark region whose luma moved more than this in the same frame
    # (as it was or gain-scaled) is covered by it: a block over a night road is dark over dark.
    # Night clips' dark cells move at most 2 levels a frame at their 99th percentile. 0: off.
    dead_join_step: float = 2.0
    dead_hold_step: float = 1.5
    # A flagged dead region of which fewer than this share still holds has ended: the rest is
    # scene beside it that looked alike, released with it. 0: each cell on its own.
    dead_release_share: float = 0.5
    # A flagged dead cell back within this of its last unflagged level shows the scene again
    # (a block left a dim border it had covered, which looks dead-alike): released. 0: off.
    dead_returned_level: float = 3.0
    # A held dead region whose edge against lit content kept its place on fewer than this share
    # of its lit border pixels moved: scene (a dark object), released. 0: off.
    dead_steady_share: float = 0.5
    # The soft rim of a dark blockage (soft_edges.py): within this share of the frame height of
    # the flagged dead cells, a pixel joins when it moved toward their level by at least
    # 1 - dead_rim_darkening of the way against the previous frame (and by 8 levels or more).
    dead_rim_reach: float = 0.05
    dead_uncovered_share: float = 0.25
    dead_rim_darkening: float = 0.6
    # Where that rim shows a soft edge (at least soft_rim_min_width of its pixels per border
    # pixel of the core; a hard-edged block or a lost band has next to none), the blob covers
    # the scene part of the way much farther out: the rim is taken again at 1 -
    # soft_rim_darkening of the way, within dead_soft_rim_reach (blockage_soft_rim_reach
    # around flagged blockage, a veil's ramp being wider), where over a window of
    # rim_fit_window pixels the moves also fit that share of the pixels' distance to the level
    # (least squares: scene changing beside the blob does not). "A soft edge that plainly
    # covers the scene" in docs/detection.md. 0 width: off.
    soft_rim_min_width: float = 1.0
    soft_rim_darkening: float = 0.9
    dead_soft_rim_reach: float = 0.10
    blockage_soft_rim_reach: float = 0.14
    rim_fit_window: int = 9
    # A pixel of the cell ring around a dead region joins it (as dark as the region) only where
    # the failure covered it: its 3 x 3 mean luma moved by at least this many levels since the
    # previous frame, or it was labelled dead a frame ago. Dark scene beside a block at night,
    # as dark and unchanged, stays scene. 0: off (every dark pixel of the ring joins).
    dead_ring_change: float = 1.0
    blockage_level_margin: float = 10.0
    blockage_min_cells: int = 12
    blockage_memory_frames: int = 30
    # After a start or reset, the colour, look and layer onsets of blockage are judged once
    # the memory holds this many frames (at most blockage_memory_frames), so lens failures are
    # not missed for a whole second; the level onsets wait for the whole memory (a light
    # swelling into view is a new level against a few frames). Measured: docs/detection.md
    # "A lens failure in the first second".
    blockage_warmup_frames: int = 8
    blockage_moved_share: float = 0.25
    blockage_body_tolerance: float = 5.0
    blockage_chroma_margin: float = 10.0
    blockage_chroma_min_gray: float = 30.0
    blockage_hold_step: float = 4.0
    # Something on the lens ends as a whole (wiped off, or it was scene): a flagged blockage
    # region of which fewer than this share still holds is released whole. 0: each cell alone.
    blockage_release_share: float = 0.5
    # A translucent layer (a grey film, fog on the glass) keeps the scene's detail in place,
    # faded (translucent_layer.py): cells with this much texture in their last look of scene
    # that kept at most translucent_texture_ratio of it and stepped by blockage_level_margin,
    # whose change a lit layer explains (layer_levels >= translucent_min_layer_level: a
    # shadow's is black), in a compact region off the frame's edge whose fine detail still
    # correlates with the frame before's (median of the cells' best correlation within
    # translucent_search pixels; a cell faded flat judged by what its region kept). Measured:
    # docs/detection.md "A translucent layer fades the scene's detail in place" and "A veil
    # over weak detail". translucent_min_correlation 0: off.
    translucent_min_texture: float = 3.0
    translucent_min_layer_level: float = 40.0
    translucent_texture_ratio: float = 0.5
    translucent_min_correlation: float = 0.8
    translucent_search: int = 4
    # Over flat scene a film fades the colour instead: flat, lit cells whose colour stood at
    # least this many levels from grey and kept at most translucent_texture_ratio of it with
    # its hue (translucent_layer.faded_colours), in a compact region off the frame's edge that
    # no moved object explains (FailureDetector._faded_colour_blobs). Measured: docs/detection.md
    # "A film over flat scene fades its colour". 0: off.
    translucent_min_colour: float = 6.0
    # A look no cell near showed within a second: level and colour shares together, each within
    # blockage_level_margin / blockage_chroma_margin of one cell's (light brown mud over a beige
    # façade). Measured: docs/detection.md "A look nothing near showed". False: off.
    blockage_new_looks: bool = True
    # A new-look region covers at least this share of the frame's cells as well as
    # blockage_min_cells: 12 cells are 0.33 % of a 640x360 frame but 0.04 % at 1920x1080, where
    # a tail light switching on or a car emerging from behind a pillar covers that many.
    blockage_new_look_min_share: float = 0.0025
    saturated_min_gray: float = 250.0
    saturated_max_texture: float = 4.0
    saturated_novel_margin: float = 20.0
    object_motion: float = 0.06
    nominal_frame_rate: float = 30.0
    max_interval_scale: float = 6.0
    saturated_glow: float = 20.0
    saturated_glow_core: float = 200.0
    saturated_growth_prior: float = 200.0
    revealed_still_frames: int = 6
    noise_min_texture: float = 160.0
    noise_floor_texture: float = 45.0
    noise_floor_per_level: float = 2.0
    noise_dark_floor: float = 10.0
    noise_baseline_ratio: float = 3.0
    noise_novel_ratio: float = 2.0
    noise_max_correlation: float = 0.25
    noise_min_cells: int = 12
    # A flagged noise region stays flagged while it is still noise: its cells' median
    # neighbour correlation below noise_max_correlation. Scene that a burst's flags cover when
    # the burst ends (a passer-by's edges walking into them) is textured but correlated.
    noise_hold_white: bool = True
    baseline_alpha: float = 0.1
    cast_colours: tuple[tuple[int, int, int], ...] = DEFAULT_CAST_COLOURS
    cast_tolerance: float = 2.0
    cast_max_texture: float = 0.5
    # A decoder's fill is one digital value: at least this share of a cast cell's pixels have
    # exactly its centre's colour (CellStats.one_value; 0 turns the test off), and that colour
    # is a fill colour's chroma: its channels differ from the fill's by one offset, within
    # cast_chroma_tolerance (a range conversion brightens a grey fill, it keeps it neutral;
    # 255 turns the test off).
    cast_min_one_value: float = 0.9
    cast_chroma_tolerance: float = 1.0
    # An exposure change: the global gain moved by at least this. Then a blockage onset must also
    # be new against the last looks mapped through the frame's exposure line (a tone curve's
    # black level makes the change affine), and a row or column has changed (a dead line's or
    # lost rows' onset) only against its luma before times the gain (LED lighting beating with
    # the frame rate, an auto exposure hunting); 0 turns both off.
    exposure_change: float = 0.05
    # A cast onset needs scene that did not nearly look like the fill in the previous frame,
    # within an object's motion: within this many levels of a fill colour and this texture, a
    # flat grey car or sky (soft optics, an upscaled stream) moved or drifted in.
    cast_novel_margin: float = 6.0
    cast_novel_texture: float = 2.0
    frozen_frames: int = 3
    frozen_min_texture: float = 6.0
    frozen_min_activity: float = 4.0
    frozen_scene_motion: float = 2.0
    # Hysteresis on the surroundings: a flagged tile stays while its ring moves this much (a
    # tunnel's walls move by 1.4-2.6 levels from frame to frame around a frozen tile).
    frozen_hold_motion: float = 1.0
    # A codec skips a few 16-px macroblocks at a time (4 cells each) where content barely
    # changed: a frozen seed covers three of them, and the tile (the seed grown through the
    # cells that stopped with it) at least four.
    frozen_min_cells: int = 12
    frozen_min_tile_cells: int = 16
    # ... and at least this share of the frame: a codec's skipped blocks are fixed in the
    # source's pixels, so footage upscaled or coded in larger blocks (an HEVC tree unit is up
    # to 64 px) skips larger regions; a freeze that matters covers a share of the view (the
    # evaluation's tiles at least 1 %).
    frozen_min_tile_share: float = 0.008
    frozen_grow_activity: float = 1.0
    # ... and had changed in each of the last this many frames before it stopped: a cell the
    # codec refreshed once between skipped frames that happened to stop in the tile's frame
    # is scene beside it (three schedules of failures: frozen precision 0.894 -> 0.942, recall
    # 0.758 -> 0.748; 3: the same precision, recall 0.734). The seam rule, made for content the
    # codec skipped before, grows without it.
    frozen_grow_moving_frames: int = 2
    # A tile also takes the identical cells within its seeds' extent (the bounding box of the
    # content that stopped together) that had stopped before it and had moved once: content
    # the codec was already skipping (a dim street at night, a flat sky) is held with the block.
    frozen_fill_extent: bool = True
    frozen_moving_frames: int = 4
    # A tile still for longer than its cells' own change rate explains is frozen, whatever they
    # did in the last frames (a codec that keeps 60-80 % of the cells identical from frame to
    # frame leaves few cells that changed four frames running): each cell learns the share of
    # frames it changed in (an exponential average, ``frozen_rate_alpha`` per frame); a cell
    # that changed in a share r >= ``frozen_rate_min`` of its frames before it stopped, and has
    # stayed identical k frames where (1 - r)^k <= ``frozen_rate_eps``, with an expected drift
    # since the stop (motion EMA x r x k) of at least ``frozen_rate_drift`` levels and a motion
    # EMA of at least ``frozen_rate_activity``, is a candidate when at least frozen_min_cells
    # cells stopped in the same frame (a tile stops as a whole; a codec's blocks stop at
    # random). Judged then by the history rule's ring and size (no growth beyond the fill: the
    # growth asks for a still run of at most frozen_frames - 1). Three schedules
    # over the ten development clips (docs/detection.md, "A cell still for longer than its
    # codec's skipping explains"): frozen recall 0.679 -> 0.752, precision 0.996 -> 0.986
    # (eps 0.01: the same within 0.002; activity 4, no drift: +0.01 only); the untouched clips'
    # false alarms none added, the 100 derived clean clips 163 -> 160 flagged frames. 0: off.
    frozen_rate_eps: float = 0.02
    frozen_rate_min: float = 0.3
    frozen_rate_alpha: float = 0.0625
    frozen_rate_activity: float = 1.0
    frozen_rate_drift: float = 8.0
    # A frozen tile ends as a whole: when at least this share of a flagged tile's cells changed
    # in a frame, the freeze ended, and its cells still identical are scene the codec keeps
    # (content taken in within the tile's extent, static scene that stopped with it), released
    # with it; cells that froze with the tile and are live by their own history (a seed of the
    # history or the rate rule; not the seam rule's), and what froze with them, are a freeze
    # that shrank and stay. With the rate rule, in a development script over three schedules:
    # frozen_short precision 0.897 without it, 0.915 with it (releasing every identical cell
    # instead lost a freeze that followed another at its place, bikes frozen_short 0.985 ->
    # 0.954 on seed 0; holding every cell that stopped with the tile altered 8.6 % of
    # surveillance's clean frames after a failure on seed 1, 0.7 % now). 0: off.
    frozen_end_share: float = 0.5
    # A codec refresh (a keyframe in footage whose codec skips most cells, or a refresh of
    # part of the picture): at least this share of the cells changes in one frame while at
    # most frozen_refresh_around as many did in the frames on either side (a busy clip changes
    # 55-60 % of its cells per frame and 95 % at a keyframe; an MPEG-4 encoder at a red light
    # at night 60 % amid 17-27 %). Cells that stop right after it are the encoder skipping
    # again, not a freeze.
    frozen_refresh_share: float = 0.5
    frozen_refresh_around: float = 0.65
    frozen_seam_ratio: float = 1.5
    activity_alpha: float = 0.3
    # A cell whose mean luma stepped by at least this much in the previous frame and is now
    # back within ACTIVITY_RETURN_TOLERANCE of its look two frames ago went out and back in
    # one frame: a failure the detector missed (a smear, a veil) or a flash. Neither way is
    # scene motion: the frozen rules' liveliness does not learn the return and forgets the way
    # in (0: off; 8 and 16 measured the same precision, a little less recall). A missed
    # smear over the codec-still road of the rain clip made half the frame "live" for a
    # moment, and the codec's next still frames read as a frozen tile over 62 % of the frame
    # (docs/detection.md, "A failure that came and went is no motion").
    activity_return_step: float = 24.0
    line_max_gradient: float = 2.0
    line_max_gray: float = 12.0
    # A dead line crosses scene brighter than itself: a line this lit within 6 (three times a
    # dead line's 0-5; 30 missed dead lines over a dim street at night, 0 took the night's
    # own black rows: the break and uniformity tests below judge the rest).
    line_lit_gray: float = 15.0
    line_min_motion: float = 10.0
    # A dead line breaks the image: it differs from what the lines just outside its run agree
    # on (their mean) by this much on average. A smooth dark band of scene (a bonnet's shadow
    # after a reflection passes) continues its neighbours: ~0.7 levels there.
    line_min_break: float = 6.0
    # ... and reads one value along its length: luma std along it at most this (injected
    # lines: sensor noise, std ~1; a dark valley of a 1080p upscale's horizon row: 10.5).
    line_max_std: float = 4.0
    lost_rows_min: int = 2
    # ... and at least this share of the frame height: resampling (an upscaling camera or
    # driver, a lens-correction remap) repeats the last 2-5 rows of a 1080p frame; a decoder
    # loses at least a macroblock row (16 px), the injected losses 5-60 % of the height.
    lost_rows_min_share: float = 0.01
    lost_rows_max_gradient: float = 0.25
    # Lost rows end as a whole: a flagged run of which more than this share shows scene again
    # in one frame (and no row newly lost) has ended, and its rows that still look lost are
    # the scene's own (a bonnet, a codec's repeated bottom rows whose level moved while the
    # failure lasted); 1 keeps each row held while it looks lost.
    lost_rows_end_share: float = 0.5
    lost_rows_moved_share: float = 0.25
    # A smear copies a structured row down (>= this luma std along it) exactly: the copied
    # rows need only a visible change (lost_rows_smear_motion); a flat run (a border, a
    # bonnet) or smooth rows that merely resemble each other (an upscale) need line_min_motion.
    lost_rows_smear_std: float = 4.0
    lost_rows_smear_motion: float = 3.0
    whole_frame_ratio: float = 0.95
    whole_frame_max_texture: float = 1.0
    whole_frame_from: float = 0.8
    # A lost frame keeps none of its scene: when at least this share of the grid's cells lies
    # outside the flat colour and kept its luma from the previous frame (within
    # WHOLE_FRAME_KEPT_STEP levels: the lights of a night road above black lost rows), the scene
    # goes on and the flat part is left to the other rules. 0: off.
    whole_frame_kept_share: float = 0.005
    defect_mask: np.ndarray | None = field(default=None, repr=False)  # defect_mask.py

    def __eq__(self, other: object) -> bool:
        """Field by field; the defect masks by content (arrays have no plain ``==``)."""
        if not isinstance(other, DetectorConfig):
            return NotImplemented
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(other, item.name)
            if isinstance(mine, np.ndarray) or isinstance(theirs, np.ndarray):
                same = mine is theirs or (
                    mine is not None and theirs is not None and np.array_equal(mine, theirs)
                )
            else:
                same = mine == theirs
            if not same:
                return False
        return True

    __hash__ = None  # mutable, like any dataclass with eq

    def __post_init__(self) -> None:
        if self.cell < 2:
            raise ValueError(f"cell must be >= 2 pixels, got {self.cell}")
        if self.frozen_frames < 2:
            raise ValueError(f"frozen_frames must be >= 2, got {self.frozen_frames}")
        if self.return_steady_frames < 0 or self.return_jump < 0 or self.return_level < 0:
            raise ValueError("return_steady_frames, return_jump and return_level must be >= 0")
        if self.onset_reach < 0 or self.max_hold_frames < 0 or self.absorbed_recovery_frames < 0:
            raise ValueError(
                "onset_reach, max_hold_frames and absorbed_recovery_frames must be >= 0"
            )
        if not self.activity_return_step >= 0.0:  # NaN too
            raise ValueError(
                f"activity_return_step must be >= 0 (0: off), got {self.activity_return_step}"
            )
        if not 0.0 <= self.frozen_hold_motion <= self.frozen_scene_motion:
            raise ValueError(
                f"frozen_hold_motion must be in [0, frozen_scene_motion "
                f"{self.frozen_scene_motion}], got {self.frozen_hold_motion}"
            )
        if not self.dead_join_step >= 0.0 or not 0.0 <= self.dead_release_share <= 1.0:
            raise ValueError(
                "dead_join_step must be >= 0 and dead_release_share in [0, 1], got "
                f"{self.dead_join_step} and {self.dead_release_share}"
            )
        if self.nominal_frame_rate <= 0.0 or self.max_interval_scale < 1.0:
            raise ValueError(
                "nominal_frame_rate must be > 0 and max_interval_scale >= 1, got "
                f"{self.nominal_frame_rate} and {self.max_interval_scale}"
            )
        if self.dead_uncovered_share <= 0.0:
            # 0 would take every new dark region for uncovered scene: no dead onset ever.
            raise ValueError(f"dead_uncovered_share must be > 0, got {self.dead_uncovered_share}")
        if self.dead_new_edge_reach <= 0.0 or self.dead_hold_step < 0.0:
            raise ValueError(
                "dead_new_edge_reach must be > 0 and dead_hold_step >= 0, got "
                f"{self.dead_new_edge_reach} and {self.dead_hold_step}"
            )
        if not 0.0 < self.cut_new_level_floor <= self.cut_new_level:
            raise ValueError(
                "cut_new_level_floor must be in (0, cut_new_level], got "
                f"{self.cut_new_level_floor} and {self.cut_new_level}"
            )
        if not self.dead_region_match_darker >= 0.0:  # NaN too: it would turn the rule off
            raise ValueError(
                f"dead_region_match_darker must be >= 0, got {self.dead_region_match_darker}"
            )
        if self.dead_novel_ratio <= 1.0:
            raise ValueError(f"dead_novel_ratio must be > 1, got {self.dead_novel_ratio}")
        if self.dead_region_min_cells < 0 or not 0.0 <= self.dead_region_new_share <= 1.0:
            raise ValueError(
                "dead_region_min_cells must be >= 0 and dead_region_new_share in [0, 1], got "
                f"{self.dead_region_min_cells} and {self.dead_region_new_share}"
            )
        if not 0.0 <= self.cut_structure_share <= 1.0:
            raise ValueError(
                f"cut_structure_share must be in [0, 1], got {self.cut_structure_share}"
            )
        if not 0.0 <= self.dead_steady_share <= 1.0:
            raise ValueError(f"dead_steady_share must be in [0, 1], got {self.dead_steady_share}")
        if not self.translucent_min_correlation <= 1.0:
            raise ValueError(
                "translucent_min_correlation must be <= 1 (0 or less: off), got "
                f"{self.translucent_min_correlation}"
            )
        if not -1.0 <= self.dead_region_max_correlation <= 1.0:
            raise ValueError(
                "dead_region_max_correlation must be in [-1, 1], got "
                f"{self.dead_region_max_correlation}"
            )
        if not 0.0 <= self.cast_min_one_value <= 1.0 or self.cast_chroma_tolerance < 0.0:
            raise ValueError(
                "cast_min_one_value must be in [0, 1] and cast_chroma_tolerance >= 0, got "
                f"{self.cast_min_one_value} and {self.cast_chroma_tolerance}"
            )
        for name, least in (
            ("dead_returned_level", 0),
            ("dead_ring_change", 0),
            ("onset_warmup_frames", 0),
            ("dead_region_max_texture", 0),
            ("dead_region_shift_px", 0),
            ("exposure_change", 0),
            ("onset_memory_frames", 1),
            ("blockage_warmup_frames", 1),
            # 0 would take every cell for revealed content: no dead or saturated onset ever.
            ("revealed_still_frames", 1),
            ("frozen_grow_moving_frames", 0),
            ("translucent_min_texture", 0),
            ("translucent_search", 0),
            ("translucent_min_colour", 0),
            ("rim_fit_window", 0),
            ("soft_rim_min_width", 0),
        ):
            if getattr(self, name) < least:
                raise ValueError(f"{name} must be >= {least}, got {getattr(self, name)}")
        for name in (
            "blockage_release_share",
            "dead_region_match_reach",
            "dead_region_match_contrast",
            "translucent_texture_ratio",
            "blockage_new_look_min_share",
            "whole_frame_kept_share",
            "dead_rim_reach",
            "dead_rim_darkening",
            "soft_rim_darkening",
            "dead_soft_rim_reach",
            "blockage_soft_rim_reach",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.frozen_rate_eps < 1.0 or not 0.0 <= self.frozen_end_share < 1.0:
            # frozen_end_share 1 would end only tiles none of whose cells is left identical.
            raise ValueError(
                "frozen_rate_eps and frozen_end_share must be in [0, 1), got "
                f"{self.frozen_rate_eps} and {self.frozen_end_share}"
            )
        for name in ("frozen_rate_activity", "frozen_rate_drift"):
            if not getattr(self, name) >= 0.0:  # NaN too: it would turn the rule off
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("frozen_min_tile_share", "lost_rows_min_share"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        for name in (
            "baseline_alpha",
            "activity_alpha",
            "whole_frame_ratio",
            "lost_rows_moved_share",
            "lost_rows_end_share",
            "return_share",
            "return_detail_share",
            "frozen_refresh_share",
            "frozen_refresh_around",
            "frozen_rate_min",
            "frozen_rate_alpha",
            # 0 would take every frame for a scene cut: no onset ever.
            "cut_new_share",
            "cut_new_spread",
        ):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")


__all__ = ["DEFAULT_CAST_COLOURS", "DetectorConfig"]
