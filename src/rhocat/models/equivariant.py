"""The default model (``--model basis``): an e3nn encoder that outputs basis coefficients.

Per atom, an equivariant message-passing network over the periodic atom graph
(NequIP-style convolutions: spherical harmonics of the edge vector ⊗ node features,
weights from a radial MLP of the distance, gated nonlinearities) outputs the
coefficients of the atom-centred basis of :mod:`rhocat.models.basis` (irreps
``n_alpha x (0e + 1o + 2e + ...)``). Δρ(G) is then evaluated analytically on the
structure's G vectors. A per-element l = 0 term (initialised from the ridge fit of
the radial floor model) is added to the scalar coefficients; the network's output layer
starts at zero, so an untrained model *is* the floor model.

Lengths in bohr inside; the cutoff is configured in Å (``cutoff_ang``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from ase.data import covalent_radii
from e3nn import o3
from e3nn.math import soft_one_hot_linspace
from e3nn.nn import FullyConnectedNet, Gate

from rhocat.errors import InputError
from rhocat.models.base import DensityModel
from rhocat.models.basis import BasisSpec, evaluate_g, inversion_partners, monopoles
from rhocat.models.elements import ElementFeatures
from rhocat.models.graph import atom_graph
from rhocat.models.radial import Z_MAX
from rhocat.units import BOHR_PER_ANGSTROM

#: Below this many multiply-adds (G vectors × atoms × basis functions) the basis is
#: evaluated on one thread: a few milliseconds of work gain nothing from more.
SMALL_EVALUATION = 5.0e7


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one intra-op thread, then restore the caller's setting.

    The encoder's tensors are tiny (a few hundred edges): splitting them over threads only
    adds synchronisation, which on a loaded machine costs up to 100x the work itself.
    """
    n = torch.get_num_threads()
    if n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def scaled_distance_basis(
    dist: torch.Tensor, radius_sum: torch.Tensor, cutoff: float, n: int, x_max: float
) -> torch.Tensor:
    """(n_edges, n) radial basis of each edge's length in units of its atoms' radii.

    With x = r / (R_i + R_j) (r the edge's length, R the two atoms' covalent radii, both in
    bohr), the k-th function is √n · B_k(x) · ½ (1 + cos(π r / r_c)), B_k the Bessel basis
    √(2/X) sin(kπx/X) / x on 0 < x < X = ``x_max`` (zero beyond): a bond of the same
    *relative* length looks the same whichever two elements it joins, so a radial function
    learnt on training pairs carries over to a pair of other radii. The cosine envelope
    makes every function vanish at the cutoff r_c (bohr), as the absolute basis does.
    """
    x = dist / radius_sum
    bessel = soft_one_hot_linspace(x, 0.0, x_max, n, basis="bessel", cutoff=True)
    envelope = 0.5 * (1.0 + torch.cos(math.pi * torch.clamp(dist / cutoff, max=1.0)))
    return bessel * math.sqrt(n) * envelope[:, None]


def _natural(muls: list[int]) -> o3.Irreps:
    return o3.Irreps([(m, (l, (-1) ** l)) for l, m in enumerate(muls) if m > 0])  # noqa: E741


class Convolution(torch.nn.Module):
    """Σ_j TP_uvu(x_j, Y(r̂_ij); w_ij) / √(avg neighbours), then a linear map to irreps_out.

    The tensor product's weights are w_ij = R(b(r_ij)), a bias-free MLP of the radial basis
    b (``n_rbf`` Bessel functions), or with a pair term (``n_pair`` > 0) one that also
    depends on which two elements the edge joins, through the two atoms' element
    descriptors e (``n_pair`` wide each), smoothly in their properties:

    - ``pair_mode = "gate"``: w_ij = R(b) ⊙ (1 + P(e_i ⊕ e_j)), P an MLP; each weight is
      scaled per element pair, the radial shape is the same for every pair.
    - ``pair_mode = "radial"``: w_ij = R(b) + R'(b ⊗ Q(e_i ⊕ e_j)), Q an MLP to ``n_pair``
      channels and R' a bias-free MLP of the n_rbf × n_pair products: an element pair
      has a radial function of its own (bond lengths differ between pairs).

    b vanishes at the cutoff, so R(b) does (a bias-free MLP with silu(0) = 0) and so does
    w_ij in either mode. The pair term's output layer (P's, R''s) starts at zero: an
    untrained pair term leaves the model unchanged.
    """

    PAIR_MODES = ("gate", "radial")

    def __init__(
        self,
        irreps_in,
        irreps_sh,
        irreps_out,
        n_rbf: int,
        radial_hidden: int,
        avg_nbrs,
        n_pair: int = 0,
        pair_mode: str = "gate",
    ):
        super().__init__()
        irreps_in, irreps_sh, irreps_out = (
            o3.Irreps(x) for x in (irreps_in, irreps_sh, irreps_out)
        )
        mid, instructions = [], []
        wanted = {ir for _, ir in irreps_out}
        for i, (mul, ir_in) in enumerate(irreps_in):
            for j, (_, ir_sh) in enumerate(irreps_sh):
                for ir_out in ir_in * ir_sh:
                    if ir_out in wanted:
                        instructions.append((i, j, len(mid), "uvu", True))
                        mid.append((mul, ir_out))
        mid = o3.Irreps(mid)
        mid_sorted, perm, _ = mid.sort()
        instructions = [(i, j, perm[k], m, t) for i, j, k, m, t in instructions]
        self.tp = o3.TensorProduct(
            irreps_in,
            irreps_sh,
            mid_sorted,
            instructions,
            shared_weights=False,
            internal_weights=False,
        )
        self.fc = FullyConnectedNet(
            [n_rbf, radial_hidden, self.tp.weight_numel], torch.nn.functional.silu
        )
        if pair_mode not in self.PAIR_MODES:
            raise InputError(f"pair_mode must be one of {self.PAIR_MODES}, not {pair_mode!r}")
        self.pair_mode = pair_mode
        self.pair = self.pair_radial = None
        if n_pair and pair_mode == "gate":
            self.pair = FullyConnectedNet(
                [2 * n_pair, radial_hidden, self.tp.weight_numel], torch.nn.functional.silu
            )
            with torch.no_grad():
                self.pair.layer1.weight.zero_()
        elif n_pair:
            self.pair = FullyConnectedNet(
                [2 * n_pair, radial_hidden, n_pair], torch.nn.functional.silu
            )
            self.pair_radial = FullyConnectedNet(
                [n_rbf * n_pair, radial_hidden, self.tp.weight_numel], torch.nn.functional.silu
            )
            with torch.no_grad():
                self.pair_radial.layer1.weight.zero_()
        self.lin = o3.Linear(mid_sorted.simplify(), irreps_out)
        self.avg_nbrs = float(avg_nbrs)

    def edge_weights(
        self,
        rbf: torch.Tensor,
        pair_center: torch.Tensor | None = None,
        pair_nbr: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(n_edges, weight_numel) tensor-product weights w_ij from the edges' radial basis
        (n_edges, n_rbf) and, when the pair term is on, the element descriptors of each
        edge's centre and neighbour atoms (n_edges, n_pair each)."""
        weights = self.fc(rbf)
        if self.pair is None:
            return weights
        q = self.pair(torch.cat([pair_center, pair_nbr], dim=1))
        if self.pair_radial is None:
            return weights * (1.0 + q)
        return weights + self.pair_radial((rbf.unsqueeze(2) * q.unsqueeze(1)).flatten(1))

    def forward(self, x, center, nbr, sh, rbf, pair=None):
        """``pair``: (n_atoms, n_pair) element descriptors, used when the pair term is on."""
        if self.pair is None:
            weights = self.edge_weights(rbf)
        else:
            weights = self.edge_weights(rbf, pair[center], pair[nbr])
        msg = self.tp(x[nbr], sh, weights)
        agg = torch.zeros(x.shape[0], msg.shape[1], dtype=msg.dtype, device=msg.device)
        agg = agg.index_add(0, center, msg)  # out of place: torch.func.vmap batches members
        return self.lin(agg / math.sqrt(self.avg_nbrs))


class ThreeBody(torch.nn.Module):
    """t_i = W · (P m_i ⊗ P m_i): each atom's aggregated messages times themselves.

    A convolution's output m_i = Σ_j φ(x_j, r_ij) sums one neighbour at a time, so a
    layer's update is a sum of pair terms. Its tensor square sums over pairs of neighbours,

        P m_i ⊗ P m_i = Σ_j Σ_k P φ(x_j, r_ij) ⊗ P φ(x_k, r_ik),

    each term depending on two neighbours of i jointly (their elements, distances and the
    angle between them at i): a three-body term, as in ACE/MACE (correlation order 2). P is
    a linear map to the narrow irreps ``muls`` (multiplicities of l = 0, 1, 2, ..., natural
    parity) that keeps the product small; W the weights of a fully connected tensor product
    back to ``irreps``, zero at the start: an untrained term adds nothing, and the model is
    the same as without it. Equivariant: P, ⊗ and W are.
    """

    def __init__(self, irreps, muls: list[int]):
        super().__init__()
        irreps = o3.Irreps(irreps)
        narrow = _natural(muls)
        self.down = o3.Linear(irreps, narrow)
        self.tp = o3.FullyConnectedTensorProduct(narrow, narrow, irreps)
        with torch.no_grad():
            self.tp.weight.zero_()

    def forward(self, messages: torch.Tensor) -> torch.Tensor:
        """(n_atoms, irreps.dim) three-body term of the (n_atoms, irreps.dim) messages."""
        narrow = self.down(messages)
        return self.tp(narrow, narrow)


class ChargeEquilibration(torch.nn.Module):
    """Charge transfer between the atoms of one cell under exact neutrality.

    From each atom's invariant features h_i the head predicts an electronegativity χ_i and
    a softness S_i > 0 (an inverse hardness), and moves electrons toward the more
    electronegative atoms as electronegativity equalization does without the Coulomb term:

        q_i = S_i (χ_i − μ),  μ = Σ_j S_j χ_j / Σ_j S_j,  so Σ_i q_i = 0 exactly,

    q_i the electrons atom i gains (e; Δρ counts electrons).

    The charge q_i is placed on atom i as an l = 0 shape of unit charge, a per-element
    mixture of the basis exponents: coefficients q_i p_{Z,n} / m_n with p_Z = softmax(w_Z)
    and m_n the charge of a unit coefficient (:func:`rhocat.models.basis.monopoles`).

    Unlike the encoder's own per-atom l = 0 output, which each atom sets from its
    neighbourhood alone, these charges are set jointly for the cell: what one atom gives,
    the others receive. χ starts at zero (no transfer), so the untrained model is unchanged.
    """

    def __init__(self, n_scalars: int, spec: BasisSpec):
        super().__init__()
        self.chi = torch.nn.Linear(n_scalars, 1)
        self.softness = torch.nn.Linear(n_scalars, 1)
        self.shape_logits = torch.nn.Parameter(torch.zeros(Z_MAX + 1, spec.n_alpha))
        self.register_buffer("unit_charge", torch.as_tensor(monopoles(spec)))
        with torch.no_grad():
            self.chi.weight.zero_()
            self.chi.bias.zero_()
            self.softness.weight.zero_()
            self.softness.bias.fill_(math.log(math.e - 1.0))  # softplus(b) = 1

    def charges(self, scalars: torch.Tensor) -> torch.Tensor:
        """(n_atoms,) electrons gained q_i (e), summing to zero; ``scalars`` (n_atoms, n)."""
        chi = self.chi(scalars).squeeze(-1)
        soft = torch.nn.functional.softplus(self.softness(scalars).squeeze(-1)) + 1e-6
        mu = (soft * chi).sum() / soft.sum()
        return soft * (chi - mu)

    def forward(self, numbers: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        """(n_atoms, n_alpha) l = 0 coefficients carrying the transferred charges."""
        shape = torch.softmax(self.shape_logits[numbers], dim=-1) / self.unit_charge
        return self.charges(scalars)[:, None] * shape


class EquivariantBasisModel(DensityModel):
    """Equivariant encoder -> basis coefficients -> analytic Δρ(G).

    Config keys: ``basis`` (BasisSpec dict), ``cutoff_ang``, ``n_layers``, ``hidden_muls``
    (multiplicities of l = 0, 1, 2, ... hidden features), ``sh_lmax`` (edge harmonics of the
    hidden layers), ``n_rbf``, ``radial_hidden``, ``avg_neighbours``, ``baseline_ridge_lambda``
    (a number, or ``"validation"``: chosen on the validation split when training starts) and
    ``baseline_ridge_scale`` (see :func:`rhocat.models.radial.fit_radial_table_choosing`),
    ``element_features`` (True: atoms enter through :class:`ElementFeatures`, tabulated
    element properties; False: a free embedding per atomic number),
    ``charge_equilibration`` (True: add :class:`ChargeEquilibration`'s charge transfer),
    ``pair_features`` (n > 0: every convolution's radial weights also depend on the two
    elements of the edge, through n-wide element descriptors; 0: off) and ``pair_mode``
    (``"gate"``: a per-pair scale of the weights; ``"radial"``: a radial function per
    pair; see :class:`Convolution`) and ``three_body_muls`` (multiplicities of l = 0, 1,
    2, ...: each hidden layer adds :class:`ThreeBody`'s term of that width to its
    messages; empty: off) and ``scaled_distance_range`` (X > 0: every edge's radial basis
    also holds ``n_rbf`` functions of its length in units of the two atoms' covalent radii,
    :func:`scaled_distance_basis`; 0: off).
    """

    kind = "basis"

    def __init__(self, config: dict, elements: Iterable[int]):
        super().__init__(config, elements)
        c = self.config
        self.spec = BasisSpec.from_dict(c.get("basis", {}))
        c["basis"] = self.spec.to_dict()
        c.setdefault("cutoff_ang", 4.5)
        c.setdefault("n_layers", 2)
        c.setdefault("hidden_muls", [24, 8, 4])
        c.setdefault("sh_lmax", 2)
        c.setdefault("n_rbf", 8)
        c.setdefault("radial_hidden", 32)
        c.setdefault("avg_neighbours", 12.0)
        c.setdefault("baseline_ridge_lambda", 10.0)
        c.setdefault("baseline_ridge_scale", "global")
        c.setdefault("element_features", False)
        c.setdefault("charge_equilibration", False)
        c.setdefault("pair_features", 0)
        c.setdefault("pair_mode", "gate")
        c.setdefault("three_body_muls", [])
        c.setdefault("scaled_distance_range", 0.0)
        self.cutoff = float(c["cutoff_ang"]) * BOHR_PER_ANGSTROM
        n_edge_basis = c["n_rbf"] * (2 if c["scaled_distance_range"] else 1)
        if c["scaled_distance_range"]:
            radii = np.zeros(Z_MAX + 1)
            radii[: min(len(covalent_radii), Z_MAX + 1)] = covalent_radii[: Z_MAX + 1]
            self.register_buffer(
                "radii_bohr", torch.as_tensor(radii * BOHR_PER_ANGSTROM, dtype=torch.float64)
            )
        hidden = _natural(c["hidden_muls"])
        self.irreps_sh_hidden = o3.Irreps.spherical_harmonics(c["sh_lmax"])
        self.irreps_sh_out = o3.Irreps.spherical_harmonics(max(c["sh_lmax"], self.spec.l_max))
        if c["element_features"]:
            self.embed = ElementFeatures(c["hidden_muls"][0], z_max=Z_MAX)
        else:
            self.embed = torch.nn.Embedding(Z_MAX + 1, c["hidden_muls"][0])
        n_pair = int(c["pair_features"])
        self.pair_embed = None
        if n_pair:
            self.pair_embed = (
                ElementFeatures(n_pair, z_max=Z_MAX)
                if c["element_features"]
                else torch.nn.Embedding(Z_MAX + 1, n_pair)
            )
        irreps = o3.Irreps(f"{c['hidden_muls'][0]}x0e")
        self.layers = torch.nn.ModuleList()
        self.selfs = torch.nn.ModuleList()
        self.gates = torch.nn.ModuleList()
        self.three_body = torch.nn.ModuleList() if c["three_body_muls"] else None
        scalars = o3.Irreps([(m, ir) for m, ir in hidden if ir.l == 0])
        gated = o3.Irreps([(m, ir) for m, ir in hidden if ir.l > 0])
        for _ in range(c["n_layers"]):
            gate = Gate(
                scalars,
                [torch.nn.functional.silu],
                o3.Irreps(f"{gated.num_irreps}x0e"),
                [torch.sigmoid],
                gated,
            )
            self.layers.append(
                Convolution(
                    irreps,
                    self.irreps_sh_hidden,
                    gate.irreps_in,
                    n_edge_basis,
                    c["radial_hidden"],
                    c["avg_neighbours"],
                    n_pair,
                    c["pair_mode"],
                )
            )
            self.selfs.append(o3.Linear(irreps, gate.irreps_in))
            self.gates.append(gate)
            if self.three_body is not None:
                self.three_body.append(ThreeBody(gate.irreps_in, c["three_body_muls"]))
            irreps = gate.irreps_out
        self.out_conv = Convolution(
            irreps,
            self.irreps_sh_out,
            self.spec.irreps,
            n_edge_basis,
            c["radial_hidden"],
            c["avg_neighbours"],
            n_pair,
            c["pair_mode"],
        )
        self.out_self = o3.Linear(irreps, self.spec.irreps)
        with torch.no_grad():
            self.out_conv.lin.weight.zero_()
            self.out_self.weight.zero_()
        self.baseline = torch.nn.Parameter(torch.zeros(Z_MAX + 1, self.spec.n_alpha))
        self.charge_eq = (
            ChargeEquilibration(c["hidden_muls"][0], self.spec)
            if c["charge_equilibration"]
            else None
        )
        self.double()

    # ---------------------------------------------------------------------------------------
    def set_baseline(self, table: np.ndarray) -> None:
        """Set the per-element l = 0 coefficients (rows in ``self.elements`` order)."""
        with torch.no_grad():
            self.baseline.zero_()
            for i, z in enumerate(self.elements):
                self.baseline[z] = torch.as_tensor(table[i], dtype=self.baseline.dtype)

    def graph(self, positions_bohr: np.ndarray, cell_bohr: np.ndarray) -> tuple[torch.Tensor, ...]:
        """Edges within the cutoff: (center, neighbour, vector bohr) as tensors."""
        i, j, vec = atom_graph(np.asarray(positions_bohr), np.asarray(cell_bohr), self.cutoff)
        dev = self.device
        return (
            torch.as_tensor(i, dtype=torch.long, device=dev),
            torch.as_tensor(j, dtype=torch.long, device=dev),
            torch.as_tensor(vec, dtype=torch.float64, device=dev),
        )

    def _edge_features(
        self, vec: torch.Tensor, numbers: torch.Tensor, center: torch.Tensor, nbr: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(radial basis, spherical harmonics up to the output's l) of each edge vector;
        with ``scaled_distance_range`` the radial basis also holds
        :func:`scaled_distance_basis` (after the absolute one)."""
        dist = torch.linalg.norm(vec, dim=1)
        n_rbf = self.config["n_rbf"]
        rbf = soft_one_hot_linspace(
            dist, 0.0, self.cutoff, n_rbf, basis="bessel", cutoff=True
        ) * math.sqrt(n_rbf)
        x_max = float(self.config["scaled_distance_range"])
        if x_max:
            radius_sum = self.radii_bohr[numbers[center]] + self.radii_bohr[numbers[nbr]]
            scaled = scaled_distance_basis(dist, radius_sum, self.cutoff, n_rbf, x_max)
            rbf = torch.cat([rbf, scaled], dim=1)
        sh_out = o3.spherical_harmonics(
            self.irreps_sh_out, vec, normalize=True, normalization="component"
        )
        return rbf, sh_out

    def _pair(self, numbers: torch.Tensor) -> torch.Tensor | None:
        """(n_atoms, pair_features) element descriptors of the pair term, None when off."""
        return None if self.pair_embed is None else self.pair_embed(numbers)

    def _hidden(self, numbers, center, nbr, sh_hidden, rbf, pair=None) -> torch.Tensor:
        x = self.embed(numbers)
        for k, (conv, lin, gate) in enumerate(
            zip(self.layers, self.selfs, self.gates, strict=True)
        ):
            messages = conv(x, center, nbr, sh_hidden, rbf, pair)
            if self.three_body is not None:
                messages = messages + self.three_body[k](messages)
            y = gate(messages + lin(x))
            x = y + x if y.shape == x.shape else y
        return x

    def _encode(self, numbers: torch.Tensor, graph: tuple[torch.Tensor, ...]) -> tuple:
        """(last hidden features, edge harmonics up to the output's l, radial basis, pair
        descriptors or None): what the output layer and the descriptors start from."""
        center, nbr, vec = graph
        rbf, sh_out = self._edge_features(vec, numbers, center, nbr)
        sh_hidden = sh_out[:, : self.irreps_sh_hidden.dim]
        pair = self._pair(numbers)
        return self._hidden(numbers, center, nbr, sh_hidden, rbf, pair), sh_out, rbf, pair

    def atom_descriptors(
        self, numbers: torch.Tensor, graph: tuple[torch.Tensor, ...]
    ) -> torch.Tensor:
        """(n_atoms, n_irreps) rotation-invariant summary of each atom's last hidden features:
        the l = 0 channels as they are and the norm of every l > 0 channel (the encoder's
        view of the atom's environment, from which its coefficients follow)."""
        x = self._encode(numbers, graph)[0]
        irreps = (
            self.gates[-1].irreps_out
            if len(self.gates)
            else o3.Irreps(f"{self.config['hidden_muls'][0]}x0e")
        )
        parts, start = [], 0
        for mul, ir in irreps:
            block = x[:, start : start + mul * ir.dim].reshape(len(x), mul, ir.dim)
            parts.append(block[..., 0] if ir.l == 0 else torch.linalg.norm(block, dim=-1))
            start += mul * ir.dim
        return torch.cat(parts, dim=1)

    def coefficients(self, numbers: torch.Tensor, graph: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """(n_atoms, spec.size) basis coefficients (e3nn irreps layout)."""
        center, nbr, _ = graph
        x, sh_out, rbf, pair = self._encode(numbers, graph)
        coeffs = self.out_conv(x, center, nbr, sh_out, rbf, pair) + self.out_self(x)
        base = self.baseline[numbers]  # (na, n_alpha): the l = 0 block is the first n_alpha columns
        if self.charge_eq is not None:
            base = base + self.charge_eq(numbers, x[:, : self.config["hidden_muls"][0]])
        pad = torch.zeros(
            coeffs.shape[0],
            coeffs.shape[1] - base.shape[1],
            dtype=coeffs.dtype,
            device=coeffs.device,
        )
        return coeffs + torch.cat([base, pad], dim=1)

    def delta_rho_g_torch(
        self, numbers, positions_bohr, cell_bohr, g_cart, graph=None, partners="auto"
    ):
        """(ngm,) complex Δρ(G), e/bohr³ (see :meth:`DensityModel.delta_rho_g_torch`).

        ``graph``: a precomputed :meth:`graph`; ``partners``: :func:`inversion_partners` of
        ``g_cart``, None to evaluate every G, or "auto" (found here for CPU tensors).
        """
        if graph is None:
            graph = self.graph(
                positions_bohr.detach().cpu().numpy(), cell_bohr.detach().cpu().numpy()
            )
        if isinstance(partners, str):
            partners = (
                inversion_partners(g_cart.detach().numpy(), cell_bohr.detach().numpy())
                if g_cart.device.type == "cpu" and cell_bohr.device.type == "cpu"
                else None
            )
        coeffs = self.coefficients(numbers, graph)
        volume = torch.abs(torch.linalg.det(cell_bohr))
        return evaluate_g(self.spec, coeffs, positions_bohr, g_cart, volume, partners=partners)

    def delta_rho_g(
        self,
        numbers: np.ndarray,
        positions_bohr: np.ndarray,
        cell_bohr: np.ndarray,
        g_cart: np.ndarray,
    ) -> np.ndarray:
        """(ngm,) complex128 Δρ(G), e/bohr³, on Cartesian G vectors (1/bohr). No gradients.

        The inference path: no autograd records, the encoder on one thread, and each
        (G, −G) pair evaluated once. Equal to :meth:`delta_rho_g_torch` to round-off.
        """
        dev = self.device
        pos = np.asarray(positions_bohr, dtype=np.float64)
        cell = np.asarray(cell_bohr, dtype=np.float64)
        g = np.asarray(g_cart, dtype=np.float64)
        partners = inversion_partners(g, cell)
        n_eval = len(g) if partners is None else (len(g) + 1) // 2
        small = n_eval * len(pos) * self.spec.size < SMALL_EVALUATION
        with torch.inference_mode():
            graph = self.graph(pos, cell)
            with _one_thread():
                coeffs = self.coefficients(
                    torch.as_tensor(np.asarray(numbers), dtype=torch.long, device=dev), graph
                )
            with _one_thread() if small else contextlib.nullcontext():
                out = evaluate_g(
                    self.spec,
                    coeffs,
                    torch.as_tensor(pos, device=dev),
                    torch.as_tensor(g, device=dev),
                    abs(float(np.linalg.det(cell))),
                    partners=partners,
                )
        return out.cpu().numpy().astype(np.complex128, copy=False)
