"""Who goes where and does what: shoppers, parties and staff on JuPedSim pedestrian dynamics.

JuPedSim (Anticipation Velocity Model) moves every person collision-free around shelves and
each other; this module decides their targets. Each person runs a queue of actions — walk to a
facing, reach, pick, inspect, put back (sometimes at another facing), stow in the basket,
queue at a lane, pay, leave through the RFID gate. What happens at the shelves is recorded here
as ground truth (shelf events, staff restocks); entering, paying and leaving go through the
store's books, `storelens.datasets.sim.ledger.Ledger` (sessions, POS transactions, RFID reads).
The result is a `Timeline`: per-frame arrays the renderer draws, plus those records (plain
dicts; `storelens.datasets.sim.truth` types them when they are written).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storelens.datasets.sim.appearance import PersonLook, sample_person_looks
from storelens.datasets.sim.ledger import Ledger
from storelens.datasets.sim.scenario import Range, Scenario
from storelens.datasets.sim.stock import Facings, Stock, build_facings
from storelens.layout import StoreLayout

SHOPPER, STAFF = 0, 1
ARRIVE_M = 0.2  # a walk ends this close to its target
STUCK_S = 12.0  # a walk that makes no progress for this long gives up where it is
HAND_SIDES = ("left", "right")  # hand index 0, 1: the person's own left and right
REACHABLE_M = 0.8  # a shelf action only happens this close to the facing's stand point
AGENT_RADIUS_M = 0.22
QUEUE_SPACING_M = 0.75
SPAWN_CLEARANCE_M = 0.6
PAY_REACH_M = 1.0  # a party pays only this close to its queue spot (a stuck walk is rerouted)
SQUEEZE_RADIUS_M = 0.08  # a rerouted walker's radius: slips past a jam a full body cannot


def _uniform(rng: np.random.Generator, r: Range) -> float:
    return float(rng.uniform(r.low, r.high))


def _int_between(rng: np.random.Generator, r: Range) -> int:
    return int(rng.integers(int(r.low), int(r.high) + 1))


@dataclass
class Person:
    index: int
    gid: int
    role: int
    party: int
    look: PersonLook
    speed: float
    enter_t: float
    actions: deque = field(default_factory=deque)
    agent: int | None = None
    gone: bool = False
    heading: float = np.pi / 2
    face_heading: float | None = None
    hand_target: np.ndarray = field(default_factory=lambda: np.zeros((2, 3)))
    hand_ext: np.ndarray = field(default_factory=lambda: np.zeros(2))
    held: list[int] = field(default_factory=lambda: [-1, -1])
    carried: list[int] = field(default_factory=list)
    # current action's private state
    phase: str = ""
    phase_t: float = 0.0
    walk_best: float = np.inf
    route: list = field(default_factory=list)  # waypoints still ahead on a routed walk
    walk_since: float = 0.0
    pay_s: float = 0.0


@dataclass
class Party:
    index: int
    members: list[int]
    lane: int = -1
    pays: bool = True
    paid: bool = False
    waiting: set = field(default_factory=set)


@dataclass
class Timeline:
    """What the renderer and the ground-truth writers need, frame by frame.

    Per frame k (time `t[k]`): person floor positions (K,P,2), headings (K,P), active (K,P),
    hand targets (K,P,2,3) and extensions (K,P,2), held units (K,P,2), basket flags (K,P); and
    the unit stock snapshot (K,U) arrays. Static: person looks and ids, unit SKUs/EPCs.
    """

    t: np.ndarray
    position: np.ndarray
    heading: np.ndarray
    active: np.ndarray
    hand_target: np.ndarray
    hand_ext: np.ndarray
    held: np.ndarray
    basket: np.ndarray
    unit_status: np.ndarray
    unit_facing: np.ndarray
    unit_spot: np.ndarray
    unit_holder: np.ndarray
    unit_hand: np.ndarray
    persons: list[Person]
    facings: Facings
    unit_sku: np.ndarray
    unit_epc: np.ndarray
    unit_ids: np.ndarray
    events: list[dict[str, Any]]
    event_actor: np.ndarray  # (E,3) int: person index, hand (0 left, 1 right), facing per event
    staff_events: list[dict[str, Any]]
    pos: list[dict[str, Any]]
    rfid: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    terminal_offset_s: dict[str, float] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return 1.0 / float(self.t[1] - self.t[0]) if len(self.t) > 1 else 0.0


class StoreBehaviour:
    """Runs a scenario in a store and records a `Timeline` (see module docstring)."""

    def __init__(
        self,
        layout: StoreLayout,
        scenario: Scenario,
        seed: int,
        fps: float,
        product_catalogue: dict[str, Any] | None = None,
    ) -> None:
        import jupedsim as jps
        import shapely
        import shapely.ops  # noqa: F401  (nearest_points)

        self.layout, self.scenario, self.fps = layout, scenario, fps
        self.rng = np.random.default_rng(seed)
        self.t0 = scenario.start_epoch
        self.facings = build_facings(layout)
        self.stock = Stock(layout, self.facings, self.rng)
        floor = shapely.box(0, 0, layout.floor.width_m, layout.floor.depth_m)
        shelves = shapely.union_all(
            [shapely.Polygon(s.polygon).buffer(0.02) for s in layout.shelves]
        )
        self.walkable = floor.difference(shelves)
        self._roomy = self.walkable.buffer(-(AGENT_RADIUS_M + 0.05))  # where a body centre fits
        self.steps_per_frame = max(1, int(np.ceil((1.0 / fps) / 0.05)))
        self.sim = jps.Simulation(
            model=jps.AnticipationVelocityModel(rng_seed=int(seed)),
            geometry=self.walkable,
            dt=1.0 / fps / self.steps_per_frame,
        )
        stage = self.sim.add_direct_steering_stage()
        self.journey = self.sim.add_journey(jps.JourneyDescription([stage]))
        self.stage = stage
        self._jps = jps
        self._router = None  # built on first need (see `_route_walk`)
        self.door_in = np.mean(self._entrance("in").polygon, axis=0)
        self.door_out = np.mean(self._entrance("out").polygon, axis=0)
        self.lanes = [self._lane_geometry(lane) for lane in layout.checkout_lanes]
        self.lane_queues: list[list[int]] = [[] for _ in self.lanes]
        self.ledger = Ledger(
            layout,
            self.stock,
            scenario,
            self.rng,
            entrance_id=self._entrance("in").entrance_id,
            exit_id=self._entrance("out").entrance_id,
            clock_rng=np.random.default_rng([seed, 905]),  # its own stream: seeds keep their runs
        )
        self.events: list[dict[str, Any]] = []
        self.event_actors: list[tuple[int, int, int]] = []
        self.staff_events: list[dict[str, Any]] = []
        self.persons: list[Person] = []
        self.parties: list[Party] = []
        self._make_people()

    # ----------------------------------------------------------------- set-up
    def _entrance(self, direction: str):  # type: ignore[no-untyped-def]
        for e in self.layout.entrances:
            if e.direction in (direction, "both"):
                return e
        raise ValueError(
            f"store {self.layout.store_id!r} has no entrance for direction {direction!r}"
        )

    def _lane_geometry(self, lane) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        poly = np.asarray(lane.polygon, float)
        lo, hi = poly.min(axis=0), poly.max(axis=0)
        centre = (lo + hi) / 2
        axis = 1 if (hi - lo)[1] >= (hi - lo)[0] else 0
        # pay at the end of the lane nearer the exit door; the queue grows the other way
        towards_exit = np.sign(self.door_out[axis] - centre[axis]) or -1.0
        pay = centre.copy()
        pay[axis] = centre[axis] + towards_exit * ((hi - lo)[axis] / 2 - 0.4)
        step = np.zeros(2)
        step[axis] = -towards_exit * QUEUE_SPACING_M
        return {"lane_id": lane.lane_id, "terminal": lane.pos_terminal_id, "pay": pay, "step": step}

    def _make_people(self) -> None:
        sc, rng = self.scenario, self.rng
        weights = np.asarray(sc.crowd.group_size_weights, float)
        weights = weights / weights.sum()
        if sc.crowd.arrival_rate_per_h is None:
            n_parties = sc.crowd.parties
            arrivals = np.sort(rng.uniform(0, sc.crowd.arrival_window_s, n_parties))
        else:
            window = max(sc.duration_s - sc.crowd.closing_s, 0.0)
            n_parties = int(rng.poisson(sc.crowd.arrival_rate_per_h * window / 3600.0))
            arrivals = np.sort(rng.uniform(0, window, n_parties))
        sizes = rng.choice(np.arange(1, len(weights) + 1), size=n_parties, p=weights)
        n_people = int(sizes.sum()) + sc.crowd.staff
        looks = sample_person_looks(rng, n_people, sc.crowd.height_m, staff=sc.crowd.staff)
        gid = 0
        for p_idx, (arrive, size) in enumerate(zip(arrivals, sizes, strict=True)):
            party = Party(index=p_idx, members=[])
            party.pays = rng.random() >= sc.checkout.leave_without_paying_rate
            for m in range(int(size)):
                gid += 1
                person = Person(
                    index=len(self.persons),
                    gid=gid,
                    role=SHOPPER,
                    party=p_idx,
                    look=looks[gid - 1],
                    speed=_uniform(rng, sc.crowd.walk_speed_mps),
                    enter_t=float(arrive) + 0.8 * m,
                )
                party.members.append(person.index)
                self.persons.append(person)
            self.parties.append(party)
            self._plan_party(party)
        for _ in range(sc.crowd.staff):
            gid += 1
            person = Person(
                index=len(self.persons),
                gid=gid,
                role=STAFF,
                party=-1,
                look=looks[gid - 1],
                speed=_uniform(rng, Range(low=0.9, high=1.2)),
                enter_t=float(rng.uniform(0, 5)),
            )
            self.persons.append(person)
            self._plan_staff(person)

    def _plan_party(self, party: Party) -> None:
        sc, rng = self.scenario, self.rng
        shelves_by_visit = []
        leader_visits = _int_between(rng, sc.shopping.shelf_visits)
        for _ in range(leader_visits):
            shelves_by_visit.append(int(rng.integers(len(self.layout.shelves))))
        for rank, member in enumerate(party.members):
            person = self.persons[member]
            visits = (
                shelves_by_visit if rank == 0 else shelves_by_visit[: max(1, leader_visits - 1)]
            )
            for shelf in visits:
                on_shelf = np.flatnonzero(self.facings.shelf_index == shelf)
                facing = int(rng.choice(on_shelf))
                person.actions.append(("walk", self.facings.stand_point(facing), facing))
                person.actions.append(("wait", _uniform(rng, sc.shopping.dwell_s)))
                for _ in range(_int_between(rng, sc.shopping.items_per_visit)):
                    both = rng.random() < sc.shopping.both_hands_rate
                    person.actions.append(("pick", facing, both))
                    person.actions.append(("inspect", _uniform(rng, sc.shopping.inspect_s)))
                    if rng.random() < sc.shopping.put_back_rate:
                        target = facing
                        if rng.random() < sc.shopping.misplace_rate:
                            target = int(rng.choice(on_shelf))
                        person.actions.append(("put_back", target))
                    else:
                        person.actions.append(("stow",))
            if party.pays:
                person.actions.append(("checkout",))
            person.actions.append(("exit",))

    def _plan_staff(self, person: Person) -> None:
        rng = self.rng
        for _ in range(40):  # more than a scenario can use: staff work until the end
            facing = int(rng.integers(len(self.facings)))
            person.actions.append(("walk", self.facings.stand_point(facing), facing))
            person.actions.append(("restock", facing))
            person.actions.append(("wait", float(rng.uniform(1.0, 3.0))))

    # ------------------------------------------------------------- simulation
    def run(self, progress: Any = None) -> Timeline:
        n_frames = int(round(self.scenario.duration_s * self.fps))
        P, U = len(self.persons), len(self.stock)
        rec = {
            "position": np.zeros((n_frames, P, 2)),
            "heading": np.zeros((n_frames, P)),
            "active": np.zeros((n_frames, P), bool),
            "hand_target": np.zeros((n_frames, P, 2, 3)),
            "hand_ext": np.zeros((n_frames, P, 2)),
            "held": np.full((n_frames, P, 2), -1),
            "basket": np.zeros((n_frames, P), bool),
            "unit_status": np.zeros((n_frames, U), np.int8),
            "unit_facing": np.zeros((n_frames, U), np.int32),
            "unit_spot": np.zeros((n_frames, U), np.int32),
            "unit_holder": np.zeros((n_frames, U), np.int32),
            "unit_hand": np.zeros((n_frames, U), np.int8),
        }
        times = self.t0 + np.arange(n_frames) / self.fps
        for k in range(n_frames):
            now = float(times[k])
            self._spawn(now)
            for person in self.persons:
                if person.agent is not None and not person.gone:
                    self._step_person(person, now)
            for _ in range(self.steps_per_frame):
                self.sim.iterate()
            for person in self.persons:
                if person.agent is None or person.gone:
                    continue
                agent = self.sim.agent(person.agent)
                rec["position"][k, person.index] = agent.position
                moving = agent.model.desired_speed > 0
                if person.face_heading is not None and not moving:
                    person.heading = person.face_heading
                elif moving:
                    person.heading = float(np.arctan2(agent.orientation[1], agent.orientation[0]))
                rec["heading"][k, person.index] = person.heading
                rec["active"][k, person.index] = True
                rec["hand_target"][k, person.index] = person.hand_target
                rec["hand_ext"][k, person.index] = person.hand_ext
                rec["held"][k, person.index] = person.held
                rec["basket"][k, person.index] = bool(person.carried) and person.role == SHOPPER
            snap = self.stock.snapshot()
            for key in ("status", "facing", "spot", "holder", "hand"):
                rec[f"unit_{key}"][k] = snap[key]
            if progress is not None:
                progress(k + 1, n_frames)
        sessions = self.ledger.close(
            {
                party.index: all(self.persons[m].gone for m in party.members)
                for party in self.parties
            }
        )
        self.ledger.refunds([lane["terminal"] for lane in self.lanes], times[0], times[-1])
        return Timeline(
            t=times,
            persons=self.persons,
            facings=self.facings,
            unit_sku=self.stock.sku,
            unit_epc=self.stock.epc,
            unit_ids=self.stock.unit_id,
            events=self.events,
            event_actor=np.array(self.event_actors, np.int64).reshape(-1, 3),
            staff_events=self.staff_events,
            pos=self.ledger.pos,
            terminal_offset_s=dict(self.ledger.terminal_offset_s),
            rfid=self.ledger.rfid,
            sessions=sessions,
            **rec,
        )

    def _spawn(self, now: float) -> None:
        for person in self.persons:
            if person.agent is not None or person.gone or now - self.t0 < person.enter_t:
                continue
            spot = self.door_in + self.rng.uniform(-0.3, 0.3, 2)
            spot[1] = max(spot[1], AGENT_RADIUS_M + 0.15)
            if any(True for _ in self.sim.agents_in_range(tuple(spot), SPAWN_CLEARANCE_M)):
                continue  # the doorway is busy; try again next frame
            params = self._jps.AnticipationVelocityModelAgentParameters(
                journey_id=self.journey,
                stage_id=self.stage,
                position=tuple(spot),
                desired_speed=person.speed,
                radius=AGENT_RADIUS_M,
            )
            person.agent = self.sim.add_agent(params)
            self.sim.agent(person.agent).target = tuple(spot)
            person.hand_target[:] = 0
            if person.role == SHOPPER:
                party = self.parties[person.party]
                shopper_ids = [f"p{self.persons[m].gid:03d}" for m in party.members]
                self.ledger.open_session(party.index, shopper_ids, now, pays=party.pays)

    def _agent(self, person: Person):  # type: ignore[no-untyped-def]
        assert person.agent is not None
        return self.sim.agent(person.agent)

    def _reachable(self, point: np.ndarray) -> np.ndarray:
        """The point itself when a person fits there, else the nearest spot where one does."""
        import shapely

        candidate = shapely.Point(float(point[0]), float(point[1]))
        if self._roomy.contains(candidate):
            return np.asarray(point, float)
        nearest = shapely.ops.nearest_points(self._roomy, candidate)[0]
        return np.array([nearest.x, nearest.y])

    def _set_walk(self, person: Person, target: np.ndarray, now: float) -> None:
        agent = self._agent(person)
        target = self._reachable(target)
        agent.target = (float(target[0]), float(target[1]))
        agent.model.desired_speed = person.speed
        agent.model.radius = AGENT_RADIUS_M
        person.walk_best, person.walk_since = np.inf, now
        person.route = []

    def _route_walk(self, person: Person, target: np.ndarray, now: float) -> None:
        """Walk to `target` round the shelves by waypoints, slimmed to squeeze past a crowd
        (steering alone walks straight and sticks behind a shelf or in a jam at a corner);
        `_walk_done` restores the radius on arrival."""
        if self._router is None:
            self._router = self._jps.RoutingEngine(self._roomy)
        here = tuple(float(c) for c in self._agent(person).position)
        goal = tuple(float(c) for c in self._reachable(target))
        try:
            waypoints = [np.array(w, float) for w in self._router.compute_waypoints(here, goal)]
        except Exception:  # noqa: BLE001  (JuPedSim finds a point outside the walkable area)
            waypoints = [np.array(goal)]
        waypoints = [w for w in waypoints[1:] if np.linalg.norm(w - waypoints[0]) > ARRIVE_M]
        waypoints = waypoints or [np.array(goal)]
        self._set_walk(person, waypoints[0], now)
        person.route = waypoints[1:]
        self._agent(person).model.radius = SQUEEZE_RADIUS_M

    def _destination(self, person: Person) -> np.ndarray:
        """Where the current walk ends (its last waypoint on a routed walk)."""
        return person.route[-1] if person.route else np.asarray(self._agent(person).target)

    def _stop(self, person: Person) -> None:
        self._agent(person).model.desired_speed = 0.0

    def _walk_done(self, person: Person, now: float) -> bool:
        """Arrived at the walk's target (as `_reachable` moved it), or stuck for too long."""
        agent = self._agent(person)
        dist = float(np.linalg.norm(np.asarray(agent.position) - np.asarray(agent.target)))
        if person.route and dist < 2 * ARRIVE_M:  # a waypoint passed: on to the next
            route, slim = person.route[1:], agent.model.radius
            self._set_walk(person, person.route[0], now)
            person.route, agent.model.radius = route, slim
            return False
        if dist < person.walk_best - 0.05:
            person.walk_best, person.walk_since = dist, now
        return dist < ARRIVE_M or now - person.walk_since > STUCK_S

    def _facing_heading(self, facing: int) -> float:
        inward = self.facings.inward[facing]
        return float(np.arctan2(inward[1], inward[0]))

    def _step_person(self, person: Person, now: float) -> None:
        dt = 1.0 / self.fps
        while person.actions:
            action = person.actions[0]
            kind = action[0]
            fresh = person.phase == ""
            if fresh:
                person.phase, person.phase_t = "start", now
            done = getattr(self, f"_do_{kind}")(person, action, now, fresh, dt)
            if not done:
                return
            person.actions.popleft()
            person.phase = ""
        if not person.gone and person.role == STAFF:
            self._stop(person)

    # Each _do_* returns True when the action is finished (the next one starts at once).
    def _do_walk(self, person: Person, action: tuple, now: float, fresh: bool, dt: float) -> bool:
        _, target, facing = action
        if fresh:
            person.face_heading = None
            self._set_walk(person, target, now)
        if self._walk_done(person, now):
            self._stop(person)
            person.face_heading = self._facing_heading(facing) if facing is not None else None
            return True
        return False

    def _do_wait(self, person: Person, action: tuple, now: float, fresh: bool, dt: float) -> bool:
        if fresh:
            self._stop(person)
        return now - person.phase_t >= action[1]

    def _reach_progress(self, person: Person, now: float, duration: float) -> float:
        return min(1.0, (now - person.phase_t) / duration)

    def _arm_out(self, person: Person, hands: list[int], target: np.ndarray, amount: float) -> None:
        for h in hands:
            person.hand_target[h] = target + np.array([0.08 * (h * 2 - 1), 0, 0]) * (len(hands) > 1)
            person.hand_ext[h] = amount

    def _within_reach(self, person: Person, facing: int) -> bool:
        stand = self.facings.stand_point(facing)
        return (
            float(np.linalg.norm(np.asarray(self._agent(person).position) - stand)) <= REACHABLE_M
        )

    def _reach(
        self,
        person: Person,
        hands: list[int],
        facing: int,
        now: float,
        reach_s: float,
        touch: Callable[[], None],
    ) -> bool:
        """Arm(s) out to a facing over `reach_s`, `touch()` at full reach, back; True when done."""
        target = self.facings.front_centre(facing)
        p = self._reach_progress(person, now, reach_s)
        if person.phase == "start":
            self._arm_out(person, hands, target, p)
            if p >= 1.0:
                touch()
                person.phase, person.phase_t = "back", now
            return False
        self._arm_out(person, hands, target, 1.0 - p)
        return p >= 1.0

    def _start_shelf_action(self, person: Person, facing: int, fresh: bool) -> bool:
        """On an action's first frame: stop and face the shelf; False when it is out of reach."""
        if not fresh:
            return True
        if not self._within_reach(person, facing):
            return False  # the walk there got stuck: this action is given up
        self._stop(person)
        person.face_heading = self._facing_heading(facing)
        return True

    def _do_pick(self, person: Person, action: tuple, now: float, fresh: bool, dt: float) -> bool:
        _, facing, both = action
        hands = [0, 1] if both else [int(person.index % 2 == 0)]
        if not self._start_shelf_action(person, facing, fresh):
            return True

        def take() -> None:
            unit = self.stock.take_front(facing)
            if unit >= 0:
                self.stock.to_hand(unit, person.index, hands[0])
                person.held[hands[0]] = unit
                self._event("pick", person, unit, facing, now, hands[0])

        return self._reach(person, hands, facing, now, 0.7, take)

    def _do_inspect(
        self, person: Person, action: tuple, now: float, fresh: bool, dt: float
    ) -> bool:
        hand = 0 if person.held[0] >= 0 else 1
        if person.held[hand] < 0:
            return True  # the facing was empty: nothing to look at
        chest = np.array([0.0, 0.0, 0.0])  # relative marker: scene puts it in front of the chest
        person.hand_target[hand] = chest
        person.hand_ext[hand] = -1.0  # negative extension = "hold in front of the chest"
        if now - person.phase_t >= action[1]:
            person.hand_ext[hand] = 0.0
            return True
        return False

    def _do_stow(self, person: Person, action: tuple, now: float, fresh: bool, dt: float) -> bool:
        for h in (0, 1):
            unit = person.held[h]
            if unit >= 0:
                self.stock.carry(unit)
                person.carried.append(unit)
                person.held[h] = -1
                person.hand_ext[h] = 0.0
        return True

    def _do_put_back(
        self, person: Person, action: tuple, now: float, fresh: bool, dt: float
    ) -> bool:
        _, facing = action
        hand = 0 if person.held[0] >= 0 else 1
        unit = person.held[hand]
        if unit < 0:
            return True
        if fresh:
            person.face_heading = self._facing_heading(facing)
            stand = self.facings.stand_point(facing)
            person.phase = (
                "walk"
                if np.linalg.norm(np.asarray(self._agent(person).position) - stand) > 0.5
                else "start"
            )
            if person.phase == "walk":
                self._set_walk(person, stand, now)
        if person.phase == "walk":
            if self._walk_done(person, now):
                self._stop(person)
                if not self._within_reach(person, facing):  # could not get there: keep it
                    return self._do_stow(person, ("stow",), now, False, dt)
                person.phase, person.phase_t = "start", now
            return False

        def release() -> None:
            if self.stock.place(unit, facing):
                person.held[hand] = -1
                self._event("put_back", person, unit, facing, now, hand)
            else:  # the facing is full: keep the item after all
                self._do_stow(person, ("stow",), now, False, dt)

        return self._reach(person, [hand], facing, now, 0.7, release)

    def _do_restock(
        self, person: Person, action: tuple, now: float, fresh: bool, dt: float
    ) -> bool:
        _, facing = action
        if not self._start_shelf_action(person, facing, fresh):
            return True

        def fill() -> None:
            unit = self.stock.stockroom_unit(facing)
            if unit >= 0 and self.stock.place(unit, facing):
                self.staff_events.append(
                    {
                        "kind": "restock",
                        "t": now,
                        "staff_id": f"p{person.gid:03d}",
                        "sku": str(self.stock.sku[unit]),
                        "unit_id": str(self.stock.unit_id[unit]),
                        "shelf_id": str(self.facings.shelf_id[facing]),
                        "level": int(self.facings.level[facing]),
                        "slot": int(self.facings.slot[facing]),
                    }
                )

        return self._reach(person, [1], facing, now, 0.8, fill)

    def _do_checkout(
        self, person: Person, action: tuple, now: float, fresh: bool, dt: float
    ) -> bool:
        party = self.parties[person.party]
        if party.lane < 0:
            party.lane = int(np.argmin([len(q) for q in self.lane_queues]))
        lane = self.lanes[party.lane]
        if person.index != party.members[0]:
            return self._member_waits_at_lane(person, party, lane, now, fresh)
        queue = self.lane_queues[party.lane]
        if fresh:
            person.face_heading = None
            queue.append(person.index)
            person.phase = "queue"
        if person.phase == "queue":
            place = queue.index(person.index)
            spot = lane["pay"] + lane["step"] * place
            if np.linalg.norm(self._destination(person) - self._reachable(spot)) > 1e-3:
                self._set_walk(person, spot, now)  # the queue moved up
            if not self._walk_done(person, now):
                return False
            if np.linalg.norm(np.asarray(self._agent(person).position) - spot) > PAY_REACH_M:
                self._route_walk(person, spot, now)  # stuck on the way: nobody pays from afar
                return False
            self._agent(person).model.radius = AGENT_RADIUS_M
            self._stop(person)
            everyone_here = all(
                m == person.index or m in party.waiting or self.persons[m].gone
                for m in party.members
            )
            if place == 0 and everyone_here:
                person.phase, person.phase_t = "pay", now
                person.face_heading = float(np.arctan2(-lane["step"][1], -lane["step"][0]))
                person.pay_s = _uniform(self.rng, self.scenario.checkout.pay_s)
            return False
        if now - person.phase_t < person.pay_s:
            return False
        self._pay(party, lane, now)
        queue.remove(person.index)
        return True

    def _member_waits_at_lane(
        self, person: Person, party: Party, lane: dict[str, Any], now: float, fresh: bool
    ) -> bool:
        rank = party.members.index(person.index)
        spot = lane["pay"] + np.array([0.9, 0.45 * rank])
        if fresh:
            person.face_heading = None
            self._set_walk(person, spot, now)
            person.phase = "walk"
        if person.phase == "walk" and self._walk_done(person, now):
            self._stop(person)
            person.phase = "waiting"
            party.waiting.add(person.index)
        return party.paid

    def _pay(self, party: Party, lane: dict[str, Any], now: float) -> None:
        """The party pays at its lane for everything its members carry (see `Ledger.checkout`)."""
        units = [u for m in party.members for u in self.persons[m].carried]
        self.ledger.checkout(party.index, units, lane["terminal"], now)
        party.paid = True

    def _do_exit(self, person: Person, action: tuple, now: float, fresh: bool, dt: float) -> bool:
        if fresh:
            person.face_heading = None
            self._set_walk(person, self.door_out, now)
        if not self._walk_done(person, now):
            return False
        self._leave(person, now)
        return True

    def _leave(self, person: Person, now: float) -> None:
        """Through the RFID gate and out: the gate reads tagged units, the session records the
        exit."""
        units = np.asarray(person.carried + [u for u in person.held if u >= 0], int)
        party = person.party if person.role == SHOPPER else None
        self.ledger.gate(units, now, party)
        self.stock.leave(units)
        if party is not None:
            self.ledger.exit(party, now, units)
        self.sim.mark_agent_for_removal(person.agent)
        person.gone = True

    # ---------------------------------------------------------------- records
    def _event(
        self, kind: str, person: Person, unit: int, facing: int, now: float, hand: int
    ) -> None:
        self.event_actors.append((person.index, hand, facing))
        self.events.append(
            {
                "event_id": f"{self.layout.store_id}-e{len(self.events) + 1:05d}",
                "store_id": self.layout.store_id,
                "kind": kind,
                "t": now,
                "sku": str(self.stock.sku[unit]),
                "unit_id": str(self.stock.unit_id[unit]),
                "shelf_id": str(self.facings.shelf_id[facing]),
                "level": int(self.facings.level[facing]),
                "slot": int(self.facings.slot[facing]),
                "shopper_id": f"p{person.gid:03d}",
                "session_id": self.ledger.session_id(person.party)
                if person.role == SHOPPER
                else None,
                "misplaced": bool(kind == "put_back" and self.stock.home[unit] != facing),
                "hand": HAND_SIDES[hand],
            }
        )
