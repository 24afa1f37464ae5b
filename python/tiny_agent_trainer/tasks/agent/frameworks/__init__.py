"""The training frameworks, one module each, registered by name (the module's name).

`ALL` lists them in a sensible order: reconstruction first, then the line to the gold, the
questions, the imagined pictures, the zooms, memory, comparison and the object loss. Importing
this package registers every framework; `base.get(name)` makes one, `base.names()` lists them
in this order.
"""

from __future__ import annotations

from . import (  # noqa: F401  (each module registers its framework)
    arrow_to_gold,
    blue_line_qa,
    closer_places,
    comparison_v1,
    complex_loss_v1,
    control,
    direction_names,
    gold_direction_qa,
    imagine_after_move,
    imagine_facing_gold,
    imagine_halfway_to_gold,
    imagine_walls_only,
    imagine_without_agent,
    imagine_without_gold,
    imagine_without_walls,
    mem_canvas_use,
    near_gold_qa,
    planned_move_qa,
    please_turn_qa,
    position_qa,
    relposition_qa,
    visited_qa,
    way_to_gold,
    zoom_agent,
    zoom_gold,
    zoom_halfway,
)
ALL: tuple[str, ...] = (
    "control",
    "arrow_to_gold",
    "way_to_gold",
    "closer_places",
    "position_qa",
    "blue_line_qa",
    "gold_direction_qa",
    "near_gold_qa",
    "relposition_qa",
    "visited_qa",
    "planned_move_qa",
    "please_turn_qa",
    "direction_names",
    "imagine_without_agent",
    "imagine_without_gold",
    "imagine_without_walls",
    "imagine_walls_only",
    "imagine_facing_gold",
    "imagine_halfway_to_gold",
    "imagine_after_move",
    "zoom_agent",
    "zoom_gold",
    "zoom_halfway",
    "mem_canvas_use",
    "comparison_v1",
    "complex_loss_v1",
)
"""Every framework's name."""
