namespace Mha2Mla.Conversion;

/// <summary>
/// Turns one layer's GQA attention into MLA (docs/design.md). The kept RoPE rows of W_k become
/// W_k_rope; the position-free key rows and W_v are factored by a truncated SVD,
/// M = [W_k,nope ; W_v] ≈ U_R Σ_R V_Rᵀ, into W_down = V_Rᵀ and W_up = U_R Σ_R (split into the
/// key and value parts); "split" factors W_k,nope and W_v separately at rank R/2 each. Biases
/// follow their rows. W_q's rows are permuted into the MLA head layout; W_o is unchanged.
/// "activation" factors M to minimize the error on the layer's inputs X instead: with
/// C = XᵀX/n + λ·mean(diag C)·I = S·Sᵀ (Cholesky), the SVD M·S = U Σ Vᵀ gives W_up = U_R Σ_R and
/// W_down = V_Rᵀ S⁻¹, the best rank-R factors of M measured as ‖(M − W_up W_down)·Xᵀ‖_F.
/// With K/V balancing (TransMLA's BKV) the position-free key rows are divided by α before the
/// factorization and the matching query rows multiplied by α, so every score q·k is unchanged
/// while keys and values weigh alike in the factorization: α² = ‖W_k,nope·Xᵀ‖²_F / ‖W_v·Xᵀ‖²_F on
/// the calibration inputs (<see cref="BalanceFactor"/>).
/// With RoPE compensation, each dropped pair's two key rows of each KV head are first replaced by
/// M·(rows), M = [[C, −S], [S, C]] the mean rotation its queries saw (<see cref="MeanRotations"/>),
/// so the position-free score keeps what RoPE contributed on average.
/// With RoRoPE (<see cref="RoRope"/>) the rope rows are one shared head mixed from every KV head,
/// and the position-free key rows are all n_kv·d_h of W_k less what that head carries.
/// The SVD runs in fp64.
/// </summary>
public static class KvFactorization
{
    /// <param name="rope">The RoPE the layer keeps (<see cref="LayerRope"/>): its rows become the rotated keys.</param>
    /// <param name="latent">The layer's latent width R.</param>
    /// <param name="inputCovariance">activation: XᵀX/n of the layer's normed inputs (d × d, fp64).</param>
    /// <param name="balance">α: the position-free keys are factored as W_k,nope/α and the queries' position-free rows scaled by α (1: as they are).</param>
    /// <param name="rotations">RoPE compensation: [kv head][pair] = (C, S) of each pair's mean rotation, applied to the dropped pairs' key rows; null: none.</param>
    public static MlaAttention Factorize(ModelConfig config, LlamaAttention attention, LayerRope rope, ConversionSettings settings, int latent, Tensor? inputCovariance = null,
        double balance = 1.0, (double C, double S)[][]? rotations = null)
    {
        using var scope = torch.NewDisposeScope();
        var heads = config.NumAttentionHeads;
        var device = attention.K.Weight.device;
        var parts = Parts(config, attention, rope, settings, rotations);

        // The MLA block is made over placeholders, then each projection gets its computed rows.
        var mla = new MlaAttention(config, rope.Pairs, latent, settings.LatentNorm, WeightSource.Placeholders(device), parts.SharedRopeHead);
        try
        {
            // Each query head in MLA layout is [2r rope | position-free]: the latter scale by α.
            var queryScale = torch.tensor(Enumerable.Range(0, heads).SelectMany(_ => Enumerable.Range(0, parts.QueryWidth)
                .Select(i => i < parts.RopeWidth ? 1f : (float)balance)).ToArray()).to(device);
            mla.Q.Set(Keep(parts.Query * queryScale.unsqueeze(1)), parts.QueryBias is null ? null : Keep(parts.QueryBias * queryScale));
            mla.KRope.Set(Keep(parts.RopeKey), parts.RopeKeyBias is null ? null : Keep(parts.RopeKeyBias));
            var keyNope = parts.NopeKey / balance;
            var (down, upKey, upValue) = settings.Svd switch
            {
                SvdMode.Split => Split(keyNope, attention.V.Weight, latent),
                SvdMode.Activation => Joint(keyNope, attention.V.Weight, latent,
                    inputCovariance ?? throw new ArgumentException("activation-aware factors need the inputs' covariance"), settings.Damping),
                _ => Joint(keyNope, attention.V.Weight, latent),
            };
            mla.KvDown.Set(Keep(down), null);
            mla.KUp.Set(Keep(upKey), parts.NopeKeyBias is null ? null : Keep(parts.NopeKeyBias / balance));
            mla.VUp.Set(Keep(upValue), attention.V.Bias is null ? null : Keep(attention.V.Bias.clone()));
            mla.O.Set(Keep(attention.O.Weight.clone()), attention.O.Bias is null ? null : Keep(attention.O.Bias.clone()));
            if (mla.LatentNorm is { } norm)
            {
                // A constant weight, the latent's RMS over the calibration tokens, so that at the start
                // RMSNorm(c)·w ≈ c: sqrt(E‖W_down x‖² / R) = sqrt(tr(W_down C W_downᵀ) / R).
                var d64 = down.to(ScalarType.Float64);
                var meanSquare = (d64.matmul(inputCovariance ?? throw new ArgumentException("the latent norm needs the inputs' covariance")) * d64).sum().item() / latent;
                norm.Set(Keep(torch.ones([latent], ScalarType.Float32, device) * Math.Sqrt(meanSquare)));
            }
            return mla;
        }
        catch
        {
            mla.Dispose();
            throw;
        }

        Tensor Keep(Tensor t) => t.contiguous().DetachFromDisposeScope();
    }

    /// <summary>
    /// What each step of width would remove from this layer's truncation error, as the chosen SVD
    /// measures it: squared singular values of M (joint), of M·S (activation), of W_k,nope and W_v
    /// side by side (split, whose step widens both) — the input of <see cref="RankAllocation"/>.
    /// </summary>
    public static double[] StepGains(ModelConfig config, LlamaAttention attention, LayerRope rope, ConversionSettings settings, Tensor? inputCovariance = null,
        double balance = 1.0, (double C, double S)[][]? rotations = null)
    {
        using var scope = torch.NewDisposeScope();
        var kv = config.NumKeyValueHeads;
        var keyNope = Parts(config, attention, rope, settings, rotations).NopeKey.to(ScalarType.Float64) / balance;
        var value = attention.V.Weight.to(ScalarType.Float64);
        double[] Squared(Tensor m) => Array.ConvertAll(torch.linalg.svd(m).Item2.data<double>(), s => s * s);
        if (settings.Svd == SvdMode.Split)
        {
            var (keys, values) = (RankAllocation.StepGains(Squared(keyNope), kv), RankAllocation.StepGains(Squared(value), kv));
            return Enumerable.Range(0, Math.Min(keys.Length, values.Length)).Select(i => keys[i] + values[i]).ToArray();
        }
        var m = torch.cat([keyNope, value], 0);
        if (settings.Svd == SvdMode.Activation)
            m = m.matmul(CholeskyFactor(inputCovariance ?? throw new ArgumentException("activation-aware factors need the inputs' covariance"), settings.Damping));
        return RankAllocation.StepGains(Squared(m), kv);
    }

    /// <summary>
    /// α of K/V balancing: √(tr(W_k,nope C W_k,nopeᵀ) / tr(W_v C W_vᵀ)) with C = XᵀX/n of the layer's
    /// inputs, the ratio of the position-free keys' and the values' Frobenius norms over the
    /// calibration tokens (biases, kept exactly beside the factors, do not count).
    /// </summary>
    public static double BalanceFactor(ModelConfig config, LlamaAttention attention, LayerRope rope, ConversionSettings settings, Tensor inputCovariance,
        (double C, double S)[][]? rotations = null)
    {
        if (settings.PositionFreeKeyRows(config) == 0) return 1.0;   // every pair keeps RoPE: no position-free key to balance
        using var scope = torch.NewDisposeScope();
        var keyNope = Parts(config, attention, rope, settings, rotations).NopeKey;
        double Energy(Tensor w)
        {
            var w64 = w.to(ScalarType.Float64);
            return (w64.matmul(inputCovariance) * w64).sum().item();
        }
        var (keys, values) = (Energy(keyNope), Energy(attention.V.Weight));
        if (!(keys > 0 && values > 0 && double.IsFinite(keys) && double.IsFinite(values)))
            throw new InvalidInputException($"--kv-balance: the keys' and values' norms on the calibration data are {Math.Sqrt(keys)} and {Math.Sqrt(values)}; balancing needs both finite and nonzero (drop --kv-balance)");
        return Math.Sqrt(keys / values);
    }

    /// <summary>
    /// One layer's projections in MLA layout before the factorization: the queries, each head
    /// [2r rope | position-free] rows; the rotated keys' rows; the position-free key rows that join
    /// W_v in the latent; biases alike.
    /// </summary>
    private sealed record LayerParts(bool SharedRopeHead, int RopeWidth, int QueryWidth, Tensor Query, Tensor? QueryBias,
        Tensor RopeKey, Tensor? RopeKeyBias, Tensor NopeKey, Tensor? NopeKeyBias);

    private static LayerParts Parts(ModelConfig config, LlamaAttention attention, LayerRope rope, ConversionSettings settings, (double C, double S)[][]? rotations) =>
        rope.SharedHead is { } shared
            ? SharedHeadParts(config, attention, shared, rotations)
            : PerKvHeadParts(config, attention, rope.Pairs, settings.RopePairs, rotations);

    // Each KV head keeps its own pairs: rows only move (keys compensated first where asked), each query head in its KV head's order.
    private static LayerParts PerKvHeadParts(ModelConfig config, LlamaAttention attention, int[][] pairs, int r, (double C, double S)[][]? rotations)
    {
        var (dh, kv, heads, device) = (config.HeadDim, config.NumKeyValueHeads, config.NumAttentionHeads, attention.K.Weight.device);
        var (weight, bias) = (attention.K.Weight, attention.K.Bias);
        if (rotations is not null)
        {
            var compensation = Compensation(config, pairs, rotations).to(device);
            (weight, bias) = (compensation.matmul(weight), bias is null ? null : compensation.matmul(bias.unsqueeze(1)).select(1, 0));
        }
        var kvOrders = pairs.Select(p => HeadLayout.RopeFirst(dh, p)).ToArray();
        var keyRows = torch.tensor(HeadLayout.Rows(dh, kvOrders)).to(device);
        var queryRows = torch.tensor(HeadLayout.Rows(dh, Enumerable.Range(0, heads).Select(h => kvOrders[h / config.GroupSize]).ToArray())).to(device);
        var ropeRows = torch.tensor(Enumerable.Range(0, kv).SelectMany(j => Enumerable.Range(0, 2 * r).Select(i => (long)(j * dh + i))).ToArray()).to(device);
        var nopeRows = torch.tensor(Enumerable.Range(0, kv).SelectMany(j => Enumerable.Range(2 * r, dh - 2 * r).Select(i => (long)(j * dh + i))).ToArray()).to(device);
        var (key, keyBias) = (weight.index_select(0, keyRows), bias?.index_select(0, keyRows));
        return new LayerParts(false, 2 * r, dh, attention.Q.Weight.index_select(0, queryRows), attention.Q.Bias?.index_select(0, queryRows),
            key.index_select(0, ropeRows), keyBias?.index_select(0, ropeRows), key.index_select(0, nopeRows), keyBias?.index_select(0, nopeRows));
    }

    // RoRoPE: one shared rope head M·W_k, position-free keys (I − MᵀM)·W_k; each query head [M_j·W_q,h | W_q,h], all scaled by
    // √((d_h + 2E)/d_h) because the shared layout's scores scale by its query width as DeepSeek's do. With compensation, the
    // position-free rest of every pair of every KV head (RoPE rotated it at that pair's frequency) is mapped by its mean rotation.
    private static LayerParts SharedHeadParts(ModelConfig config, LlamaAttention attention, RoRope rorope, (double C, double S)[][]? rotations)
    {
        var (dh, heads) = (config.HeadDim, config.NumAttentionHeads);
        var ropeWidth = 2 * rorope.Pairs.Length;
        var scale = Math.Sqrt((double)(dh + ropeWidth) / dh);
        Tensor Queries(Tensor rows) => torch.cat(Enumerable.Range(0, heads).Select(h =>
        {
            var head = rows.narrow(0, (long)h * dh, dh);
            return torch.cat([rorope.QueryRope(head, h / config.GroupSize, dh), head], 0);
        }).ToArray(), 0) * scale;
        Tensor? Column(Tensor? bias, Func<Tensor, Tensor> map) => bias is null ? null : map(bias.unsqueeze(1)).select(1, 0);
        var compensation = rotations is null ? null
            : Compensation(config, Enumerable.Repeat(Array.Empty<int>(), config.NumKeyValueHeads).ToArray(), rotations).to(attention.K.Weight.device);
        Tensor PositionFree(Tensor key)
        {
            var rest = rorope.PositionFreeKeys(key);
            return compensation is null ? rest : compensation.matmul(rest);
        }
        var weight = attention.K.Weight;
        return new LayerParts(true, ropeWidth, ropeWidth + dh, Queries(attention.Q.Weight), Column(attention.Q.Bias, Queries),
            rorope.RopeKeys(weight), Column(attention.K.Bias, rorope.RopeKeys), PositionFree(weight), Column(attention.K.Bias, PositionFree));
    }

    /// <summary>
    /// The (n_kv·d_h)² matrix that RoPE compensation puts before W_k: the identity, except that each
    /// dropped pair k of KV head j (rows k and k + d_h/2 of its head) is mapped by [[C, −S], [S, C]].
    /// </summary>
    public static Tensor Compensation(ModelConfig config, int[][] pairs, (double C, double S)[][] rotations)
    {
        var (dh, kv) = (config.HeadDim, config.NumKeyValueHeads);
        var (n, half) = (kv * dh, dh / 2);
        var m = new float[n * n];
        for (var i = 0; i < n; i++) m[i * n + i] = 1;
        for (var j = 0; j < kv; j++)
            foreach (var k in Enumerable.Range(0, half).Except(pairs[j]))
            {
                var (a, b) = (j * dh + k, j * dh + k + half);
                var (c, s) = rotations[j][k];
                (m[a * n + a], m[a * n + b], m[b * n + a], m[b * n + b]) = ((float)c, (float)-s, (float)s, (float)c);
            }
        return torch.tensor(m, [n, n]);
    }

    /// <summary>Rank-R factors of [a; b]: (down R×d, up_a, up_b), up = U_R·Σ_R; activation-aware when a covariance is given.</summary>
    private static (Tensor Down, Tensor UpA, Tensor UpB) Joint(Tensor a, Tensor b, int rank, Tensor? covariance = null, double damping = 0)
    {
        var m = torch.cat([a, b], 0);
        var (down, up) = covariance is null ? Truncated(m, rank) : ActivationAware(m, covariance, rank, damping);
        return (down, up.narrow(0, 0, a.size(0)), up.narrow(0, a.size(0), b.size(0)));
    }

    // M·S = U Σ Vᵀ with C = S·Sᵀ: W_up = U_R Σ_R, W_down = V_Rᵀ S⁻¹ (solved, never inverted).
    private static (Tensor Down, Tensor Up) ActivationAware(Tensor m, Tensor covariance, int rank, double damping)
    {
        var s = CholeskyFactor(covariance, damping);
        var (u, sigma, vh) = torch.linalg.svd(m.to(ScalarType.Float64).matmul(s));
        var up = u.narrow(1, 0, rank) * sigma.narrow(0, 0, rank).unsqueeze(0);
        var down = torch.linalg.solve_triangular(s, vh.narrow(0, 0, rank), upper: false, left: false); // X·S = V_Rᵀ
        return (down.to(ScalarType.Float32), up.to(ScalarType.Float32));
    }

    // S with S·Sᵀ = C + λ·mean(diag C)·I.
    private static Tensor CholeskyFactor(Tensor covariance, double damping)
    {
        var (d, device) = (covariance.size(0), covariance.device);
        var diagonalMean = covariance.reshape(d * d).index_select(0, torch.arange(0, d * d, d + 1, ScalarType.Int64, device)).mean().item();
        var damped = covariance + torch.eye(d, ScalarType.Float64, device) * (damping * diagonalMean);
        Tensor s;
        try
        {
            s = torch.linalg.cholesky(damped);
        }
        catch (TorchException)
        {
            throw new InvalidInputException("the calibration inputs' covariance is not positive definite (too few or degenerate calibration tokens); give more --calib-samples or raise --svd-damping");
        }
        return s;
    }

    /// <summary>a and b each at rank R/2; the latent is [c_a ; c_b] and each up-projection reads its half.</summary>
    private static (Tensor Down, Tensor UpA, Tensor UpB) Split(Tensor a, Tensor b, int rank)
    {
        var half = rank / 2;
        var (downA, upA) = Truncated(a, half);
        var (downB, upB) = Truncated(b, half);
        var zerosA = torch.zeros([a.size(0), half], ScalarType.Float32, a.device);
        var zerosB = torch.zeros([b.size(0), half], ScalarType.Float32, b.device);
        return (torch.cat([downA, downB], 0), torch.cat([upA, zerosA], 1), torch.cat([zerosB, upB], 1));
    }

    private static (Tensor Down, Tensor Up) Truncated(Tensor m, int rank)
    {
        var (u, s, vh) = torch.linalg.svd(m.to(ScalarType.Float64));
        var down = vh.narrow(0, 0, rank);
        var up = u.narrow(1, 0, rank) * s.narrow(0, 0, rank).unsqueeze(0);
        return (down.to(ScalarType.Float32), up.to(ScalarType.Float32));
    }
}
