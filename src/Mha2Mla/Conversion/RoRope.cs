namespace Mha2Mla.Conversion;

/// <summary>
/// RoRoPE with FreqFold (TransMLA, Meng et al. 2025; docs/design.md "RoRoPE"): one layer's keys
/// turned into ONE shared rope head plus position-free rows.
///
/// Frequency pairs are grouped F at a time (group g: pairs gF … gF+F−1; F = 1 without folding).
/// For a group, stack the 2-D pair vectors of every KV head and pair in it, n = n_kv·F of them,
/// and take the second moment of that n-vector over the calibration inputs and both coordinates:
/// Σ_g = A₁ C A₁ᵀ + A₂ C A₂ᵀ (A₁, A₂ the rows of W_k for the pairs' first and second coordinates,
/// C = XᵀX/n; biases are constant offsets and left out). Its leading eigenvector u_g mixes the
/// n vectors into one, k'_g = Σ u_g[i]·k_i, with the same coefficients on both coordinates, so the
/// mixing commutes with a rotation. Of the groups, the E = n_kv·r whose λ_max is largest keep RoPE
/// on k'_g at frequency θ of the group's first pair (exact for F = 1; for F > 1 the other pairs
/// of the group are rotated at their neighbour's frequency, FreqFold's approximation); the rest of
/// every key — k − Σ_g u_g (u_gᵀ k), which is all of it for unchosen groups — is position-free.
///
/// Written as one matrix M (2E × n_kv·d_h), rows i and E+i holding u_{g_i} on the first and second
/// coordinates of group g_i's rows, with M·Mᵀ = I: the shared rope keys are M·W_k, the
/// position-free keys (I − MᵀM)·W_k (n_kv·d_h rows, in the original order), and query head h of
/// KV group j gets rope rows M_j·W_q,h (M_j: M's columns of KV head j) beside all d_h of its own.
/// Then q·k = q_rope·k_rope + q·k_nope for every query and key, before any rotation: at Δ = 0 the
/// scores are exactly the original's, and with all of a group's energy in its leading component
/// (λ_max = tr Σ_g) RoRoPE loses nothing at any distance.
/// </summary>
public sealed class RoRope
{
    private readonly double[] mixing;   // M, row-major (2E × n_kv·d_h)
    private readonly int width;         // n_kv·d_h

    /// <summary>The shared head's pairs, ascending: each chosen group's first pair, whose frequency its rope rows rotate at.</summary>
    public int[] Pairs { get; }

    /// <summary>Per chosen group (as <see cref="Pairs"/>): λ_max / tr Σ_g, the share of the group's key energy that keeps RoPE.</summary>
    public double[] EnergyShares { get; }

    private RoRope(double[] mixing, int width, int[] pairs, double[] shares) => (this.mixing, this.width, Pairs, EnergyShares) = (mixing, width, pairs, shares);

    /// <param name="keyWeight">W_k (n_kv·d_h × d).</param>
    /// <param name="inputCovariance">XᵀX/n of the layer's normed inputs (d × d, fp64).</param>
    /// <param name="fold">F, adjacent pairs per group (divides d_h/2).</param>
    /// <param name="keep">E, the groups that keep RoPE (at most d_h/(2F)).</param>
    public static RoRope Analyze(ModelConfig config, Tensor keyWeight, Tensor inputCovariance, int fold, int keep)
    {
        using var scope = torch.NewDisposeScope();
        var (dh, kv) = (config.HeadDim, config.NumKeyValueHeads);
        var (half, groups, n, width) = (dh / 2, dh / 2 / fold, kv * fold, kv * dh);
        var w = keyWeight.to(ScalarType.Float64);
        var keyMoments = w.matmul(inputCovariance).matmul(w.transpose(0, 1));   // (n_kv·d_h)² : E[W_k x (W_k x)ᵀ]

        var leading = new double[groups][];
        var (largest, shares) = (new double[groups], new double[groups]);
        for (var g = 0; g < groups; g++)
        {
            var (first, second) = (Rows(g, 0), Rows(g, half));
            var sigma = Block(first) + Block(second);                          // n × n
            var (u, s, _) = torch.linalg.svd(sigma);                            // symmetric PSD: U's columns are its eigenvectors
            var values = s.data<double>();
            var vector = u.narrow(1, 0, 1).contiguous().data<double>();
            leading[g] = vector;
            largest[g] = values[0];
            var total = values.Sum();
            shares[g] = total > 0 ? values[0] / total : 1.0;
            Tensor Block(int[] rows)
            {
                var index = torch.tensor(rows.Select(i => (long)i).ToArray()).to(keyMoments.device);
                return keyMoments.index_select(0, index).index_select(1, index);
            }
        }
        if (largest.Any(v => !double.IsFinite(v)))
            throw new InvalidInputException("RoRoPE: the keys' statistics on the calibration data are not finite (the activations overflowed); check the weights, or choose another --rope-strategy");

        var chosen = RopeSelection.TopPairs(largest, keep);
        var e = chosen.Length;
        var m = new double[2 * e * width];
        for (var i = 0; i < e; i++)
        {
            var g = chosen[i];
            var (first, second) = (Rows(g, 0), Rows(g, half));
            for (var c = 0; c < n; c++)
            {
                m[i * width + first[c]] = leading[g][c];
                m[(e + i) * width + second[c]] = leading[g][c];
            }
        }
        return new RoRope(m, width, chosen.Select(g => g * fold).ToArray(), chosen.Select(g => shares[g]).ToArray());

        // The rows of group g's pairs on one coordinate (offset 0: first, d_h/2: second), KV head by KV head.
        int[] Rows(int g, int offset) =>
            Enumerable.Range(0, kv).SelectMany(j => Enumerable.Range(g * fold, fold).Select(p => j * dh + offset + p)).ToArray();
    }

    /// <summary>M as a tensor (fp64) on <paramref name="device"/>.</summary>
    public Tensor Mixing(Device device) => torch.tensor(mixing, [mixing.Length / width, width]).to(device);

    /// <summary>The shared rope rows of a key projection (weight (n_kv·d_h × d) or bias as (n_kv·d_h × 1)): M·W, in W's dtype.</summary>
    public Tensor RopeKeys(Tensor key)
    {
        using var scope = torch.NewDisposeScope();
        return Mixing(key.device).matmul(key.to(ScalarType.Float64)).to(key.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The position-free rest of a key projection: (I − MᵀM)·W, every row in the original order.</summary>
    public Tensor PositionFreeKeys(Tensor key)
    {
        using var scope = torch.NewDisposeScope();
        var m = Mixing(key.device);
        var k = key.to(ScalarType.Float64);
        return (k - m.transpose(0, 1).matmul(m.matmul(k))).to(key.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Query head h's rope rows, M_j·W_q,h (2E × ·), for its d_h rows <paramref name="head"/> and KV head j.</summary>
    public Tensor QueryRope(Tensor head, int kvHead, int headDim)
    {
        using var scope = torch.NewDisposeScope();
        var m = Mixing(head.device).narrow(1, (long)kvHead * headDim, headDim);
        return m.matmul(head.to(ScalarType.Float64)).to(head.dtype).MoveToOuterDisposeScope();
    }
}
