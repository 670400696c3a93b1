namespace Mha2Mla.Torch;

public static partial class torch
{
    public static class optim
    {
        /// <summary>Stateless update rules; optimizers keep their state as ordinary tensors.</summary>
        public static class functional
        {
            /// <summary>
            /// One AdamW step on one parameter, in place: torch 1.13's single-tensor update, with
            /// <paramref name="step"/> the 1-based count of steps including this one.
            /// </summary>
            public static void adamw_step(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, long step,
                double lr, double beta1, double beta2, double eps, double weightDecay) =>
                TorchException.Check(NativeMethods.mm_adamw_step(param, grad, expAvg, expAvgSq, step, lr, beta1, beta2, eps, weightDecay));
        }
    }
}
