//! A driver for poke-engine's Gen 1 engine (see Cargo.toml): reads one JSON request on stdin and
//! writes JSON lines on stdout.
//!
//! * `{"mode": "damage", "cases": [{"attacker": MON, "defender": MON, "move": "bodyslam"}, ...]}`:
//!   for each case, the branches poke-engine generates when the attacker (side one) uses the move
//!   and the defender (side two) does nothing: `{"outcomes": [[damage to the defender, probability],
//!   ...], "max": [damage, crit damage] | null}` (`max`: `calculate_damage_rolls`, the highest roll).
//! * `{"mode": "battles", "battles": [{"seed": S, "teams": [[MON x 6], [MON x 6]]}], "max_turns": N}`:
//!   plays each battle with both sides choosing uniformly at random among poke-engine's options
//!   each turn and one branch of the turn's outcomes drawn by its probability; one line per battle:
//!   `{"seed", "winner": 0 | 1 | -1 (draw or turn limit), "turns", "moves": {move: uses}, "switches"}`.
//!   A turn is a decision in which neither side is replacing a fainted Pokémon (as the spec counts).
//! * `{"mode": "bench", "battles": [...], "repeat": R}`: the battles above R times, timed on one
//!   thread; one line `{"battles", "turns", "decisions", "seconds"}`: `decisions` counts every
//!   joint choice of the two sides, the replacements after a faint included, as envc's joint
//!   steps (`step_joint`, `rollout_joint`) count them; `turns` leaves the replacements out.
//!
//! MON = `{"species": "tauros", "level": 100, "types": ["Normal", "???"], "hp": 353,
//! "stats": [atk, def, spc, spe], "moves": [["bodyslam", pp], ...]}`.

use std::collections::BTreeMap;
use std::io::Read;
use std::str::FromStr;

use poke_engine::choices::{Choices, MoveCategory, MOVES};
use poke_engine::engine::generate_instructions::{calculate_damage_rolls, generate_instructions_from_move_pair};
use poke_engine::engine::state::MoveChoice;
use poke_engine::instruction::Instruction;
use poke_engine::pokemon::PokemonName;
use poke_engine::state::{Move, PokemonIndex, PokemonMoveIndex, PokemonType, SideReference, State};
use serde_json::{json, Value};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn type_of(name: &str) -> PokemonType {
    if name == "???" {
        return PokemonType::TYPELESS;
    }
    PokemonType::from_str(name).unwrap_or_else(|_| panic!("unknown type {}", name))
}

const MOVE_INDICES: [PokemonMoveIndex; 4] = [PokemonMoveIndex::M0, PokemonMoveIndex::M1, PokemonMoveIndex::M2, PokemonMoveIndex::M3];
const INDICES: [PokemonIndex; 6] = [PokemonIndex::P0, PokemonIndex::P1, PokemonIndex::P2, PokemonIndex::P3, PokemonIndex::P4, PokemonIndex::P5];

fn set_mon(state: &mut State, side: SideReference, i: usize, mon: &Value) {
    let side = state.get_side(&side);
    let p = &mut side.pokemon.pkmn[i];
    p.id = PokemonName::from_str(mon["species"].as_str().unwrap()).unwrap();
    p.level = mon["level"].as_i64().unwrap() as i8;
    let types = mon["types"].as_array().unwrap();
    p.types = (type_of(types[0].as_str().unwrap()), type_of(types[1].as_str().unwrap()));
    p.base_types = p.types;
    p.hp = mon["hp"].as_i64().unwrap() as i16;
    p.maxhp = p.hp;
    let st = mon["stats"].as_array().unwrap();
    p.attack = st[0].as_i64().unwrap() as i16;
    p.defense = st[1].as_i64().unwrap() as i16;
    p.special_attack = st[2].as_i64().unwrap() as i16;
    p.special_defense = st[2].as_i64().unwrap() as i16;
    p.speed = st[3].as_i64().unwrap() as i16;
    for (k, mv) in mon["moves"].as_array().unwrap().iter().enumerate() {
        let id = Choices::from_str(mv[0].as_str().unwrap()).unwrap();
        p.moves[&MOVE_INDICES[k]] = Move { id, disabled: false, pp: mv[1].as_i64().unwrap() as i8,
                                           choice: MOVES.get(&id).unwrap().to_owned() };
    }
}

fn empty_state() -> State {
    let mut state = State::default();
    for side in [SideReference::SideOne, SideReference::SideTwo] {
        let s = state.get_side(&side);
        for p in s.pokemon.pkmn.iter_mut() {
            p.hp = 0;
        }
        s.active_index = PokemonIndex::P0;
    }
    state
}

/// The damage the move deals: the first damage instruction to `side` (later ones are
/// end-of-turn residual damage, e.g. the poison a secondary effect just inflicted).
fn damage_to(instructions: &[Instruction], side: SideReference) -> i64 {
    instructions.iter().find_map(|ins| match ins {
        Instruction::Damage(d) if d.side_ref == side => Some(d.damage_amount as i64),
        Instruction::DamageSubstitute(d) if d.side_ref == side => Some(d.damage_amount as i64),
        _ => None,
    }).unwrap_or(0)
}

fn damage_mode(req: &Value) {
    for case in req["cases"].as_array().unwrap() {
        let mut state = empty_state();
        set_mon(&mut state, SideReference::SideOne, 0, &case["attacker"]);
        set_mon(&mut state, SideReference::SideTwo, 0, &case["defender"]);
        let id = Choices::from_str(case["move"].as_str().unwrap()).unwrap();
        let pp = 10;
        state.side_one.pokemon.pkmn[0].moves[&PokemonMoveIndex::M0] = Move { id, disabled: false, pp,
            choice: MOVES.get(&id).unwrap().to_owned() };
        let branches = generate_instructions_from_move_pair(&mut state, &MoveChoice::Move(PokemonMoveIndex::M0),
                                                            &MoveChoice::None, false);
        let mut outcomes: BTreeMap<i64, f64> = BTreeMap::new();
        for b in &branches {
            *outcomes.entry(damage_to(&b.instruction_list, SideReference::SideTwo)).or_insert(0.0) += b.percentage as f64 / 100.0;
        }
        let mut choice = MOVES.get(&id).unwrap().to_owned();
        choice.move_index = PokemonMoveIndex::M0;
        let max = if choice.category == MoveCategory::Status { None } else {
            calculate_damage_rolls(state.clone(), &SideReference::SideOne, choice, &MOVES.get(&Choices::NONE).unwrap().to_owned())
        };
        println!("{}", json!({"outcomes": outcomes.iter().map(|(d, p)| json!([d, p])).collect::<Vec<_>>(), "max": max}));
    }
}

fn move_name(state: &State, side: SideReference, choice: &MoveChoice) -> Option<String> {
    match choice {
        MoveChoice::Move(i) => Some(format!("{:?}", state.get_side_immutable(&side).get_active_immutable().moves[i].id).to_lowercase()),
        _ => None,
    }
}

/// One battle: (winner, turns, switches, decisions); see the module comment for the counts.
fn play(battle: &Value, max_turns: i64, rng: &mut Rng, usage: &mut BTreeMap<String, i64>) -> (i64, i64, i64, i64) {
    let mut state = empty_state();
    let teams = battle["teams"].as_array().unwrap();
    for (side, team) in [(SideReference::SideOne, &teams[0]), (SideReference::SideTwo, &teams[1])] {
        for (i, mon) in team.as_array().unwrap().iter().enumerate() {
            set_mon(&mut state, side, i, mon);
        }
    }
    let mut turns = 0;
    let mut switches = 0;
    let mut decisions = 0;
    loop {
        let over = state.battle_is_over();
        if over != 0.0 {
            return (if over > 0.0 { 0 } else { 1 }, turns, switches, decisions);
        }
        if turns >= max_turns {
            return (-1, turns, switches, decisions);
        }
        decisions += 1;
        let replacing = state.side_one.get_active_immutable().hp <= 0 || state.side_two.get_active_immutable().hp <= 0;
        let (s1, s2) = state.root_get_all_options();
        let c1 = s1[rng.below(s1.len())];
        let c2 = s2[rng.below(s2.len())];
        if !replacing {
            turns += 1;
            for (side, c) in [(SideReference::SideOne, &c1), (SideReference::SideTwo, &c2)] {
                match move_name(&state, side, c) {
                    Some(name) => *usage.entry(name).or_insert(0) += 1,
                    None => if matches!(c, MoveChoice::Switch(_)) { switches += 1 },
                }
            }
        }
        let branches = generate_instructions_from_move_pair(&mut state, &c1, &c2, false);
        let total: f64 = branches.iter().map(|b| b.percentage as f64).sum();
        let mut r = rng.unit() * total;
        let mut pick = branches.len() - 1;
        for (k, b) in branches.iter().enumerate() {
            if r < b.percentage as f64 {
                pick = k;
                break;
            }
            r -= b.percentage as f64;
        }
        state.apply_instructions(&branches[pick].instruction_list);
    }
}

fn battles_mode(req: &Value) {
    let max_turns = req["max_turns"].as_i64().unwrap_or(1000);
    for battle in req["battles"].as_array().unwrap() {
        let seed = battle["seed"].as_u64().unwrap();
        let mut rng = Rng(seed ^ 0x5EED_0F_B477);
        let mut usage = BTreeMap::new();
        let (winner, turns, switches, _) = play(battle, max_turns, &mut rng, &mut usage);
        println!("{}", json!({"seed": seed, "winner": winner, "turns": turns, "moves": usage, "switches": switches}));
    }
}

fn bench_mode(req: &Value) {
    let max_turns = req["max_turns"].as_i64().unwrap_or(1000);
    let repeat = req["repeat"].as_u64().unwrap_or(1);
    let battles = req["battles"].as_array().unwrap();
    let mut usage = BTreeMap::new();
    let start = std::time::Instant::now();
    let (mut n, mut turns, mut decisions) = (0u64, 0i64, 0i64);
    for r in 0..repeat {
        for battle in battles {
            let mut rng = Rng(battle["seed"].as_u64().unwrap() ^ r);
            let (_, t, _, d) = play(battle, max_turns, &mut rng, &mut usage);
            n += 1;
            turns += t;
            decisions += d;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!("{}", json!({"battles": n, "turns": turns, "decisions": decisions, "seconds": seconds}));
}

fn main() {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).unwrap();
    let req: Value = serde_json::from_str(&text).expect("a JSON request on stdin");
    match req["mode"].as_str().unwrap() {
        "damage" => damage_mode(&req),
        "battles" => battles_mode(&req),
        "bench" => bench_mode(&req),
        other => panic!("unknown mode {}", other),
    }
    let _ = INDICES;
}
