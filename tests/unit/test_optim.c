/* Unit tests for the optimizers (src/optim/optim.c and the CPU backend's
 * fused update steps): several steps of every variant on a fixed gradient
 * sequence compared with torch.optim (or, for LARS and LAMB, the published
 * rules computed independently in Python), parameter groups without weight
 * decay, exact resumption from the state buffers, clipping by global norm,
 * the learning-rate schedules and the linear scaling rule against their
 * closed forms, and the configuration errors.
 *
 * Tolerance: parameters agree with the float64 reference to 1e-5 relative
 * plus 1e-6 absolute (dtrain updates in float32, about 1e-7 per step). */
#include "optim/optim.h"

#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "test_util.h"

#define N_PARAMS 4
#define N_STEPS 5

/* Inputs shared with tests/unit/ref/optim_ref.py; dyadic, so exact in float32. */
static const float k_p0[N_PARAMS] = {0.5f, -1.25f, 2.0f, 0.0625f};
static const float k_grads[N_STEPS][N_PARAMS] = {
    {0.25f, -0.5f, 1.5f, 0.125f},
    {-0.75f, 0.375f, 1.0f, -0.0625f},
    {0.5f, 0.5f, -2.0f, 0.25f},
    {0.125f, -1.0f, 0.75f, 0.0f},
    {-0.25f, 0.625f, -0.5f, 0.5f},
};

/* Parameters after each step, in float64, with the settings named above each
 * table: torch.optim where it has the optimizer, else the published rule
 * computed in plain Python (tests/unit/ref/optim_ref.py prints them all). */
/* generated with torch 1.13.0a0 */
/* sgd_plain: torch.optim.SGD(lr=0.1) */
static const double k_sgd_plain[5][4] = {
    {0.47499999999999998, -1.2, 1.8500000000000001, 0.050000000000000003},
    {0.54999999999999993, -1.2375, 1.75, 0.056250000000000001},
    {0.49999999999999994, -1.2875000000000001, 1.95, 0.03125},
    {0.48749999999999993, -1.1875, 1.875, 0.03125},
    {0.51249999999999996, -1.25, 1.925, -0.018750000000000003},
};
/* sgd_momentum_dampening: torch.optim.SGD(lr=0.1, momentum=0.9, dampening=0.3) */
static const double k_sgd_momentum_dampening[5][4] = {
    {0.47499999999999998, -1.2, 1.8500000000000001, 0.050000000000000003},
    {0.505, -1.1812499999999999, 1.645, 0.043125000000000004},
    {0.497, -1.1993749999999999, 1.6005, 0.019437500000000003},
    {0.48104999999999998, -1.1456874999999997, 1.5079500000000001, -0.0018812499999999979},
    {0.48419499999999999, -1.1411187499999997, 1.4596550000000001, -0.056068125000000003},
};
/* sgd_full_dampening: torch.optim.SGD(lr=0.1, momentum=0.9, dampening=1.0) */
static const double k_sgd_full_dampening[5][4] = {
    {0.47499999999999998, -1.2, 1.8500000000000001, 0.050000000000000003},
    {0.45249999999999996, -1.155, 1.7150000000000001, 0.03875},
    {0.43224999999999997, -1.1145, 1.5935000000000001, 0.028624999999999998},
    {0.41402499999999998, -1.07805, 1.4841500000000001, 0.019512499999999995},
    {0.39762249999999999, -1.045245, 1.3857350000000002, 0.011311249999999993},
};
/* sgd_nesterov_wd: torch.optim.SGD(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01) */
static const double k_sgd_nesterov_wd[5][4] = {
    {0.47704999999999997, -1.203875, 1.8632, 0.051193750000000003},
    {0.53596065500000001, -1.2201415125000001, 1.7228831199999999, 0.052752675625000002},
    {0.50779763441049997, -1.2625381451387501, 1.8298243011919999, 0.028972816216937501},
    {0.49377458432993049, -1.1858072235241253, 1.7669195575225272, 0.019943954226142258},
    {0.50981486619334215, -1.2201102749893091, 1.7907374647056555, -0.032285495798810696},
};
/* sgd_weight_decay: torch.optim.SGD(lr=0.1, weight_decay=0.1) */
static const double k_sgd_weight_decay[5][4] = {
    {0.46999999999999997, -1.1875, 1.8300000000000001, 0.049374999999999995},
    {0.5403, -1.213125, 1.7117, 0.055131249999999993},
    {0.48489700000000002, -1.2509937499999999, 1.8945829999999999, 0.02957993749999999},
    {0.46754803, -1.1384838124999999, 1.8006371699999999, 0.029284138124999991},
    {0.48787254969999999, -1.189598974375, 1.8326307982999999, -0.021008703256250011},
};
/* sgd_step_schedule: torch.optim.SGD(lr=0.2, momentum=0.5), StepLR(step_size=2, gamma=0.5) */
static const double k_sgd_step_schedule[5][4] = {
    {0.45000000000000001, -1.1499999999999999, 1.7, 0.037499999999999999},
    {0.57500000000000007, -1.1749999999999998, 1.3499999999999999, 0.037499999999999999},
    {0.55625000000000002, -1.2312499999999997, 1.4624999999999999, 0.012499999999999997},
    {0.53437500000000004, -1.1593749999999998, 1.4437499999999999, -3.4694469519536142e-18},
    {0.54140625000000009, -1.1726562499999997, 1.4640624999999998, -0.028125000000000004},
};
/* adam: torch.optim.Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-08) */
static const double k_adam[5][4] = {
    {0.49000000039999997, -1.2400000002, 1.9900000000666667, 0.052500000799999932},
    {0.4949418986445851, -1.2391067501461603, 1.9802964788618316, 0.049836630672950487},
    {0.49475402170395438, -1.2425603775774232, 1.9800235385302651, 0.043255515068280868},
    {0.49383108362565159, -1.2397883317346396, 1.9782475709356173, 0.037864665663863678},
    {0.49447572333204587, -1.240076838493015, 1.9777317688496494, 0.03086718075831759},
};
/* adam_weight_decay: torch.optim.Adam(lr=0.02, betas=(0.8, 0.99), eps=1e-06, weight_decay=0.1) */
static const double k_adam_weight_decay[5][4] = {
    {0.48000006666644446, -1.2300000319999489, 1.980000011764699, 0.042500152379791392},
    {0.48949298024462456, -1.2242067978146844, 1.9606564354370928, 0.037375753766945186},
    {0.48678828529073825, -1.2275068294720646, 1.9594063854192778, 0.02323832514451481},
    {0.48228921855417872, -1.2178042560265121, 1.9540938181332985, 0.01230888041321635},
    {0.4815798228317929, -1.2152429640978741, 1.951323311814867, -0.0033989879657521285},
};
/* adamw: torch.optim.AdamW(lr=0.01, betas=(0.9, 0.95), eps=1e-08, weight_decay=0.05) */
static const double k_adamw[5][4] = {
    {0.4897500004, -1.2393750002000001, 1.9890000000666668, 0.052468750799999936},
    {0.49439808298862814, -1.2378589015243147, 1.9782547124674279, 0.049758822217445813},
    {0.49396397301107053, -1.2406933412431758, 1.9769943198259783, 0.043246493858253111},
    {0.49278758785120946, -1.2373505868049159, 1.97422359599588, 0.037841446657871883},
    {0.493195709653241, -1.2370164704321001, 1.9727131951065324, 0.031063605058460508},
};
/* adam_amsgrad: torch.optim.Adam(lr=0.05, betas=(0.5, 0.9), eps=1e-08, amsgrad=True) */
static const double k_adam_amsgrad[5][4] = {
    {0.4500000019999999, -1.200000001, 1.9500000003333333, 0.012500003999999676},
    {0.48650715361986763, -1.2094983387197549, 1.9037692543288385, 0.012500003999999676},
    {0.47668934108203698, -1.2442660736543614, 1.924177407977693, -0.029422463220082087},
    {0.46464647815764798, -1.2154472825986522, 1.9206012171604065, -0.051461116578541133},
    {0.47282208398891118, -1.2259044585278722, 1.928783764263772, -0.10390671397589375},
};
/* adamw_amsgrad: torch.optim.AdamW(lr=0.05, betas=(0.5, 0.9), eps=1e-08, weight_decay=0.1, amsgrad=True) */
static const double k_adamw_amsgrad[5][4] = {
    {0.4475000019999999, -1.1937500009999999, 1.9400000003333333, 0.012187503999999676},
    {0.48176965360986762, -1.1972795887147547, 1.8840692543271718, 0.012126566479999677},
    {0.46954299280398765, -1.2260609257057875, 1.8950570617043905, -0.029856533572482084},
    {0.45515241491557873, -1.1911118300215493, 1.882005585578582, -0.051745904263078721},
    {0.46105225867226401, -1.1956134468006616, 1.8807781047540544, -0.10393277213911595},
};
/* adagrad: torch.optim.Adagrad(lr=0.1) */
static const double k_adagrad[5][4] = {
    {0.40000000004000003, -1.1500000000199999, 1.9000000000066666, -0.037499999919999999},
    {0.4948683298330514, -1.2100000000103999, 1.8445299803872206, 0.0072213595979957954},
    {0.44141608145628081, -1.2724695047580374, 1.9188081156552828, -0.08006579646592496},
    {0.4281707578870339, -1.19439749892825, 1.8919752999262454, -0.08006579646592496},
    {0.45377813387099014, -1.2382503998905245, 1.9095843180521377, -0.1668379795783286},
};
/* adagrad_decay_init: torch.optim.Adagrad(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1, weight_decay=0.01, eps=1e-10) */
static const double k_adagrad_decay_init[5][4] = {
    {0.43722809488323405, -1.1648967224116704, 1.9020963172432308, 0.025580464782590455},
    {0.52085950537795422, -1.2140978239265492, 1.8498374995618614, 0.042717762949973502},
    {0.47437546400492603, -1.26591127463647, 1.9161684542057191, -0.010592689715532191},
    {0.46305401537325214, -1.1995009498760199, 1.8924722449175906, -0.010571120617036293},
    {0.48297777310137358, -1.2344706281712967, 1.9064736834083358, -0.073932170280377046},
};
/* adadelta: torch.optim.Adadelta(lr=1.0, rho=0.9, eps=1e-06) */
static const double k_adadelta[5][4] = {
    {0.4968379752916906, -1.2468377855834876, 1.9968377293670918, 0.059338733783215934},
    {0.5011017846272191, -1.2496112209035133, 1.994266439088008, 0.061422964608232287},
    {0.49770779214390021, -1.2530058372915283, 1.9981701866063006, 0.057117332568894022},
    {0.49672368072732109, -1.248104318559482, 1.9963420500803137, 0.057117332568894022},
    {0.4986500222341137, -1.251689932590681, 1.9976071716177157, 0.051651721254840591},
};
/* adadelta_wd: torch.optim.Adadelta(lr=0.5, rho=0.8, eps=0.0001, weight_decay=0.1) */
static const double k_adadelta_wd[5][4] = {
    {0.48885058780629248, -1.2388268086681471, 1.9888206271444526, 0.05147846572762866},
    {0.50359050551638762, -1.2452994167619114, 1.9790319821420537, 0.058271177334471701},
    {0.49027186540700607, -1.2545244213424669, 1.9919454263155374, 0.043418453927174111},
    {0.48511851597773337, -1.2386214506090416, 1.9836699175556334, 0.0430496813069568},
    {0.49118282028419452, -1.2479543981516756, 1.986594453683985, 0.024953016172541285},
};
/* rmsprop: torch.optim.RMSprop(lr=0.01, alpha=0.99, eps=1e-08) */
static const double k_rmsprop[5][4] = {
    {0.40000003999998407, -1.150000019999996, 1.9000000066666662, -0.037499920000063955},
    {0.49491582756322344, -1.2101929368810465, 1.8443369757659018, 0.0074013732485884096},
    {0.4412525415312441, -1.2729759061817929, 1.9188973003342746, -0.080072562845652617},
    {0.4278900530527282, -1.1945993946884328, 1.8918441729113138, -0.080072562845652617},
    {0.45383024619018703, -1.2387687569113701, 1.9096798126894652, -0.16710401877679049},
};
/* rmsprop_momentum: torch.optim.RMSprop(lr=0.01, alpha=0.9, eps=1e-08, momentum=0.8) */
static const double k_rmsprop_momentum[5][4] = {
    {0.46837722739831567, -1.2183772253983161, 1.9683772240649828, 0.030877231398314178},
    {0.47323014256262341, -1.2126906182051465, 1.9248971854657295, 0.020323208654195183},
    {0.45951027842247766, -1.2289195010435228, 1.9145061191525996, -0.016305799371657347},
    {0.44394491300883127, -1.2162628992607716, 1.8969703086323693, -0.045609005792339376},
    {0.44074470376341013, -1.2210368858282556, 1.8892909112768186, -0.097280601014160653},
};
/* rmsprop_centered_all: torch.optim.RMSprop(lr=0.01, alpha=0.9, eps=1e-06, centered=True, momentum=0.5, weight_decay=0.05) */
static const double k_rmsprop_centered_all[5][4] = {
    {0.46666707070217328, -1.2166668641963603, 1.9666667361109664, 0.029167533852777813},
    {0.48035352475904392, -1.2161213600969369, 1.9294840632689318, 0.02680700006990417},
    {0.4687873274884603, -1.2349093829140148, 1.9340305067002146, -0.0042412276951093331},
    {0.45757181534645669, -1.2172821864196306, 1.9259440344194003, -0.019738947960634329},
    {0.46037960009503093, -1.2218945659860097, 1.927004126969631, -0.058517664584576141},
};
/* sgd_groups: torch.optim.SGD(lr=0.1, momentum=0.9), groups [0:2] {'weight_decay': 0.2}, [2:4] no decay */
static const double k_sgd_groups[5][4] = {
    {0.46500000000000002, -1.175, 1.8500000000000001, 0.050000000000000003},
    {0.49920000000000003, -1.1214999999999999, 1.615, 0.045000000000000005},
    {0.46999600000000002, -1.1009199999999999, 1.6034999999999999, 0.015500000000000005},
    {0.42181248000000005, -0.96037959999999989, 1.5181499999999999, -0.011049999999999997},
    {0.39501106240000006, -0.87718564799999987, 1.4913349999999999, -0.084945000000000007},
};
/* adamw_groups: torch.optim.AdamW(lr=0.05, betas=(0.9, 0.99), eps=1e-08), groups [0:2] {'weight_decay': 0.5}, [2:4] no decay */
static const double k_adamw_groups[5][4] = {
    {0.43750000199999989, -1.168750001, 1.9500000003333333, 0.012500003999999676},
    {0.45122740907373993, -1.1350621683257534, 1.9014401124918856, -0.00083496610245136112},
    {0.43900824121380561, -1.1239537021343615, 1.9000769052099828, -0.033655606554290715},
    {0.42341292718505991, -1.0820396537170898, 1.8911916955251324, -0.060601565189077902},
    {0.41605927820902344, -1.0564275533813092, 1.8886061980112328, -0.0953687062659411},
};
/* lars: lars(lr=0.5, momentum=0.9, wd=0.01, eta=0.02, eps=1e-9), one tensor */
static const double k_lars[5][4] = {
    {0.49622653017932633, -1.2424160655564891, 1.9775071602846117, 0.060641011191285753},
    {0.50620504696529867, -1.2420993508381555, 1.9389569826804054, 0.060079011911972235},
    {0.50967004073258548, -1.2471390504616329, 1.9258916328281399, 0.05683645656283063},
    {0.51039850348269467, -1.2330744724225751, 1.9000006136548762, 0.053907715213261327},
    {0.51674457872335899, -1.2346524725039281, 1.8878753202068301, 0.039641209666319489},
};
/* lars_groups: lars(lr=0.5, momentum=0.9, wd=0.01, eta=0.02), tensors [0:2] [2:4], [2:4] excluded */
static const double k_lars_groups[5][4] = {
    {0.49400320863629399, -1.2379476252003949, 1.25, 0},
    {0.5002638557982596, -1.2327743168308065, 0.074999999999999956, -0.025000000000000001},
    {0.49657234900958547, -1.2371243813207722, 0.017499999999999849, -0.17249999999999999},
    {0.49155328833325951, -1.2278229168336183, -0.40925000000000022, -0.30525000000000002},
    {0.49175864701326233, -1.2312580863260627, -0.54332500000000028, -0.67472500000000002},
};
/* lamb: lamb(lr=0.01, betas=(0.9, 0.999), eps=1e-6, wd=0.01), one tensor */
static const double k_lamb[5][4] = {
    {0.48799583710478761, -1.2379062295542158, 1.9878166299665354, 0.050548142018181391},
    {0.49825770806684733, -1.2357732788331621, 1.9670493686304535, 0.044951932041612595},
    {0.49749423393240055, -1.246469013599125, 1.9655409196968705, 0.023799793369791284},
    {0.49393519364720878, -1.2358700787582393, 1.9583235002960495, 0.004066193220241876},
    {0.4959312359490281, -1.2364231049177636, 1.9559371681281665, -0.019399842347445816},
};
/* lamb_groups: lamb(lr=0.02, betas=(0.8, 0.99), eps=1e-6, wd=0.1), tensors [0:2] [2:4], [2:4] excluded */
static const double k_lamb_groups[5][4] = {
    {0.48162803880364347, -1.2303157158677394, 1.9800000133333244, 0.042500159998720005},
    {0.50686323793410415, -1.2224772430422974, 1.9608056706963266, 0.038277461833585442},
    {0.49886714364133972, -1.2477083123171291, 1.9620695758313222, 0.024437976808782978},
    {0.48915215437114146, -1.2226508430248804, 1.9593626655541903, 0.013844221332865413},
    {0.49996404732055366, -1.198634995413759, 1.9596144965837961, -0.0017272056830909925},
};

/* Check that the last error message contains `needle`. */
#define CHECK_MSG(needle)                                                      \
    do {                                                                       \
        if (!strstr(dt_error_message(), (needle))) {                           \
            fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__,  \
                    __LINE__, dt_error_message(), (needle));                   \
            dt_test_failures++;                                                \
        }                                                                      \
    } while (0)

/* Load `yaml` (a document with an `optim` map) and create the optimizer.
 * Returns its status; *root must be freed by the caller when not NULL. */
static dt_status make_optim(const char *yaml, int64_t total_steps, dt_cfg **root, dt_optim **o)
{
    *o = NULL;
    *root = NULL;
    const dt_status s = dt_cfg_load_string(yaml, "optim.yaml", root);
    if (s != DT_OK) return s;
    return dt_optim_create(dt_cfg_get(*root, "optim"), dt_backend_cpu(), N_PARAMS, total_steps,
                           o);
}

typedef struct optim_case {
    const char *name;
    const char *yaml;
    const double (*expect)[N_PARAMS];
    int n_state;
    int split; /* two groups, [0:2] and [2:4], the second marked no_decay */
} optim_case;

static const optim_case k_cases[] = {
    {"sgd plain", "optim: {kind: sgd, lr: 0.1}", k_sgd_plain, 0, 0},
    {"sgd momentum + dampening", "optim: {kind: sgd, lr: 0.1, momentum: 0.9, dampening: 0.3}",
     k_sgd_momentum_dampening, 1, 0},
    {"sgd full dampening", "optim: {kind: sgd, lr: 0.1, momentum: 0.9, dampening: 1.0}",
     k_sgd_full_dampening, 1, 0},
    {"sgd nesterov + weight decay",
     "optim: {kind: sgd, lr: 0.05, momentum: 0.8, nesterov: true, weight_decay: 0.01}",
     k_sgd_nesterov_wd, 1, 0},
    {"sgd weight decay", "optim: {kind: sgd, lr: 0.1, weight_decay: 0.1}", k_sgd_weight_decay,
     0, 0},
    {"sgd momentum + step schedule",
     "optim: {kind: sgd, lr: 0.2, momentum: 0.5, schedule: {kind: step, step_size: 2, "
     "gamma: 0.5}}",
     k_sgd_step_schedule, 1, 0},
    {"adam", "optim: {kind: adam, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1.0e-8}", k_adam, 2, 0},
    {"adam + weight decay",
     "optim: {kind: adam, lr: 0.02, beta1: 0.8, beta2: 0.99, eps: 1.0e-6, weight_decay: 0.1}",
     k_adam_weight_decay, 2, 0},
    {"adamw", "optim: {kind: adamw, lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1.0e-8, "
              "weight_decay: 0.05}",
     k_adamw, 2, 0},
    {"adam amsgrad", "optim: {kind: adam, lr: 0.05, beta1: 0.5, beta2: 0.9, amsgrad: true}",
     k_adam_amsgrad, 3, 0},
    {"adamw amsgrad", "optim: {kind: adamw, lr: 0.05, beta1: 0.5, beta2: 0.9, amsgrad: true, "
                      "weight_decay: 0.1}",
     k_adamw_amsgrad, 3, 0},
    {"adagrad", "optim: {kind: adagrad, lr: 0.1}", k_adagrad, 1, 0},
    {"adagrad lr_decay + initial accumulator + weight decay",
     "optim: {kind: adagrad, lr: 0.1, lr_decay: 0.05, initial_accumulator: 0.1, "
     "weight_decay: 0.01, eps: 1.0e-10}",
     k_adagrad_decay_init, 1, 0},
    {"adadelta", "optim: {kind: adadelta, lr: 1.0, rho: 0.9, eps: 1.0e-6}", k_adadelta, 2, 0},
    {"adadelta + weight decay",
     "optim: {kind: adadelta, lr: 0.5, rho: 0.8, eps: 1.0e-4, weight_decay: 0.1}",
     k_adadelta_wd, 2, 0},
    {"rmsprop", "optim: {kind: rmsprop, lr: 0.01, alpha: 0.99, eps: 1.0e-8}", k_rmsprop, 1, 0},
    {"rmsprop momentum", "optim: {kind: rmsprop, lr: 0.01, alpha: 0.9, momentum: 0.8}",
     k_rmsprop_momentum, 2, 0},
    {"rmsprop centered + momentum + weight decay",
     "optim: {kind: rmsprop, lr: 0.01, alpha: 0.9, eps: 1.0e-6, centered: true, "
     "momentum: 0.5, weight_decay: 0.05}",
     k_rmsprop_centered_all, 3, 0},
    {"sgd momentum, no decay on the bias group",
     "optim: {kind: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.2, no_decay_bias_norm: true}",
     k_sgd_groups, 1, 1},
    {"adamw, no decay on the bias group",
     "optim: {kind: adamw, lr: 0.05, beta1: 0.9, beta2: 0.99, weight_decay: 0.5, "
     "no_decay_bias_norm: true}",
     k_adamw_groups, 2, 1},
    {"lars", "optim: {kind: lars, lr: 0.5, momentum: 0.9, weight_decay: 0.01, "
             "trust_coefficient: 0.02, eps: 1.0e-9}",
     k_lars, 1, 0},
    {"lars, two tensors, bias excluded",
     "optim: {kind: lars, lr: 0.5, momentum: 0.9, weight_decay: 0.01, "
     "trust_coefficient: 0.02, no_decay_bias_norm: true}",
     k_lars_groups, 1, 1},
    {"lamb", "optim: {kind: lamb, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1.0e-6, "
             "weight_decay: 0.01}",
     k_lamb, 2, 0},
    {"lamb, two tensors, bias excluded",
     "optim: {kind: lamb, lr: 0.02, beta1: 0.8, beta2: 0.99, weight_decay: 0.1, "
     "no_decay_bias_norm: true}",
     k_lamb_groups, 2, 1},
};

/* The two groups of the split cases. */
static const dt_optim_group k_split[2] = {{0, 2, 0}, {2, 2, 1}};

/* Run N_STEPS updates and compare the parameters after every step. */
static void run_case(const optim_case *c)
{
    dt_cfg *root;
    dt_optim *o;
    CHECK_OK(make_optim(c->yaml, 1000, &root, &o));
    if (!o) {
        dt_cfg_free(root);
        return;
    }
    /* Every key of the case was read: none was silently ignored. */
    CHECK_OK(dt_cfg_check_unused(root));
    CHECK(o->n_state == c->n_state);
    if (c->split) dt_optim_set_groups(o, k_split, 2);

    float p[N_PARAMS];
    memcpy(p, k_p0, sizeof p);
    for (int t = 0; t < N_STEPS; t++) {
        dt_optim_step(o, p, k_grads[t]);
        for (int i = 0; i < N_PARAMS; i++) {
            const double want = c->expect[t][i];
            if (!(fabs(p[i] - want) <= 1e-6 + 1e-5 * fabs(want))) {
                fprintf(stderr, "%s:%d: %s: step %d param %d = %.9g, torch gives %.9g\n",
                        __FILE__, __LINE__, c->name, t + 1, i, p[i], want);
                dt_test_failures++;
            }
        }
    }
    CHECK(o->step == N_STEPS);
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

static void test_updates(void)
{
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) run_case(&k_cases[i]);
}

/* Resuming is exact: 2 steps, then a fresh optimizer given the named state
 * buffers and the step count (what a checkpoint holds) takes 3 more, and
 * ends bitwise where 5 uninterrupted steps end. */
static void check_resume(const optim_case *c)
{
    dt_cfg *r1, *r2, *r3;
    dt_optim *full, *first, *second;
    CHECK_OK(make_optim(c->yaml, 1000, &r1, &full));
    CHECK_OK(make_optim(c->yaml, 1000, &r2, &first));
    CHECK_OK(make_optim(c->yaml, 1000, &r3, &second));
    if (full && first && second) {
        if (c->split) {
            dt_optim_set_groups(full, k_split, 2);
            dt_optim_set_groups(first, k_split, 2);
            dt_optim_set_groups(second, k_split, 2);
        }
        float a[N_PARAMS], b[N_PARAMS];
        memcpy(a, k_p0, sizeof a);
        memcpy(b, k_p0, sizeof b);
        for (int t = 0; t < N_STEPS; t++) dt_optim_step(full, a, k_grads[t]);
        for (int t = 0; t < 2; t++) dt_optim_step(first, b, k_grads[t]);
        for (int i = 0; i < first->n_state; i++) {
            CHECK(strcmp(first->state_names[i], second->state_names[i]) == 0);
            memcpy(second->state[i], first->state[i], N_PARAMS * sizeof(float));
        }
        second->step = first->step;
        for (int t = 2; t < N_STEPS; t++) dt_optim_step(second, b, k_grads[t]);
        if (memcmp(a, b, sizeof a) != 0) {
            fprintf(stderr, "%s:%d: %s: resumed run differs\n", __FILE__, __LINE__, c->name);
            dt_test_failures++;
        }
    }
    dt_optim_destroy(full);
    dt_optim_destroy(first);
    dt_optim_destroy(second);
    dt_cfg_free(r1);
    dt_cfg_free(r2);
    dt_cfg_free(r3);
}

static void test_resume(void)
{
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) check_resume(&k_cases[i]);
}

/* State buffers carry torch.optim's names; Adagrad's starts at the
 * initial accumulator. */
static void test_state(void)
{
    dt_cfg *root;
    dt_optim *o;
    CHECK_OK(make_optim("optim: {kind: adagrad, initial_accumulator: 0.25}", 10, &root, &o));
    if (o) {
        CHECK(o->n_state == 1 && strcmp(o->state_names[0], "sum") == 0);
        for (int i = 0; i < N_PARAMS; i++) CHECK(o->state[0][i] == 0.25f);
    }
    dt_optim_destroy(o);
    dt_cfg_free(root);
    CHECK_OK(make_optim("optim: {kind: rmsprop, centered: true}", 10, &root, &o));
    if (o) {
        CHECK(o->n_state == 2 && strcmp(o->state_names[1], "grad_avg") == 0);
        CHECK(o->lr == 0.01 && o->alpha == 0.99 && o->eps == 1e-8);
    }
    dt_optim_destroy(o);
    dt_cfg_free(root);
    CHECK_OK(make_optim("optim: {kind: adadelta}", 10, &root, &o));
    if (o) CHECK(o->lr == 1.0 && o->rho == 0.9 && o->eps == 1e-6);
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

/* Clipping by global norm: g (norm 5) scaled by c / (5 + 1e-6) when that
 * is below 1, untouched otherwise or when clipping is off. */
static void test_clipping(void)
{
    const struct {
        const char *yaml;
        double factor;
    } cases[] = {
        {"optim: {kind: sgd, clip_grad_norm: 1.0}", 1.0 / (5.0 + 1e-6)},
        {"optim: {kind: sgd, clip_grad_norm: 2.5}", 2.5 / (5.0 + 1e-6)},
        {"optim: {kind: sgd, clip_grad_norm: 10.0}", 1.0},
        {"optim: {kind: sgd}", 1.0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        dt_cfg *root;
        dt_optim *o;
        CHECK_OK(make_optim(cases[c].yaml, 10, &root, &o));
        if (o) {
            float g[N_PARAMS] = {1.5f, -2.0f, 0.0f, 0.0f}; /* norm 2.5 */
            for (int i = 0; i < N_PARAMS; i++) g[i] *= 2.0f; /* norm 5 */
            const float g0[N_PARAMS] = {3.0f, -4.0f, 0.0f, 0.0f};
            CHECK_CLOSE(dt_optim_clip_grads(o, g), 5.0, 1e-12, 0.0);
            CHECK_CLOSE(o->last_grad_norm, 5.0, 1e-12, 0.0);
            for (int i = 0; i < N_PARAMS; i++)
                CHECK_CLOSE(g[i], g0[i] * cases[c].factor, 1e-7, 1e-7);
        }
        dt_optim_destroy(o);
        dt_cfg_free(root);
    }
}

/* Defaults follow torch.optim.Adam: lr 1e-3, betas (0.9, 0.999), eps 1e-8. */
static void test_defaults(void)
{
    dt_cfg *root;
    dt_optim *o;
    CHECK_OK(make_optim("optim: {}", 10, &root, &o));
    if (o) {
        CHECK(o->kind == DT_OPTIM_ADAM);
        CHECK(o->lr == 1e-3 && o->beta1 == 0.9 && o->beta2 == 0.999 && o->eps == 1e-8);
        CHECK(o->weight_decay == 0.0 && o->sched == DT_SCHED_CONSTANT);
        CHECK(strcmp(dt_optim_name(o->kind), "adam") == 0);
    }
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

/* dt_optim_lr_at(step) against closed forms. */
static void check_lrs(const char *yaml, int64_t total, const int64_t *steps, const double *want,
                      int n)
{
    dt_cfg *root;
    dt_optim *o;
    CHECK_OK(make_optim(yaml, total, &root, &o));
    for (int i = 0; o && i < n; i++) {
        const double got = dt_optim_lr_at(o, steps[i]);
        if (!(fabs(got - want[i]) <= 1e-12 + 1e-9 * fabs(want[i]))) {
            fprintf(stderr, "%s:%d: %s: lr at step %lld = %.12g, expected %.12g\n", __FILE__,
                    __LINE__, yaml, (long long)steps[i], got, want[i]);
            dt_test_failures++;
        }
    }
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

static double cosine_lr(double lr, double min_lr, double t)
{
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + cos(M_PI * t));
}

static void test_schedules(void)
{
    {
        const int64_t s[] = {0, 1, 10, 999};
        const double w[] = {0.3, 0.3, 0.3, 0.3};
        check_lrs("optim: {kind: sgd, lr: 0.3}", 1000, s, w, 4);
    }
    {
        /* lr * gamma^floor(step / step_size), as torch.optim.lr_scheduler.StepLR. */
        const int64_t s[] = {0, 2, 3, 5, 6, 9, 30};
        const double w[] = {0.1, 0.1, 0.05, 0.05, 0.025, 0.0125, 0.1 * pow(0.5, 10)};
        check_lrs("optim: {lr: 0.1, schedule: {kind: step, step_size: 3, gamma: 0.5}}", 100, s,
                  w, 7);
    }
    {
        /* CosineAnnealingLR with T_max = total steps, then held at min_lr. */
        const int64_t s[] = {0, 25, 50, 75, 100, 150};
        const double w[] = {1.0, cosine_lr(1.0, 0.1, 0.25), 0.55, cosine_lr(1.0, 0.1, 0.75), 0.1,
                            0.1};
        check_lrs("optim: {lr: 1.0, schedule: {kind: cosine, min_lr: 0.1}}", 100, s, w, 6);
        /* The short form `schedule: cosine`, min_lr 0. */
        const double w0[] = {1.0, cosine_lr(1.0, 0.0, 0.25), 0.5, cosine_lr(1.0, 0.0, 0.75), 0.0,
                             0.0};
        check_lrs("optim: {lr: 1.0, schedule: cosine}", 100, s, w0, 6);
    }
    {
        /* Linear warm-up over 10 steps ((step+1)/10 of the rate), then the
         * cosine over the remaining 100 steps. */
        const int64_t s[] = {0, 4, 9, 10, 35, 60, 110};
        const double w[] = {0.1, 0.5, 1.0, 1.0, cosine_lr(1.0, 0.1, 0.25), 0.55, 0.1};
        check_lrs("optim: {lr: 1.0, schedule: {kind: cosine, warmup_steps: 10, min_lr: 0.1}}",
                  110, s, w, 7);
    }
    {
        const int64_t s[] = {0, 1, 3, 4, 100};
        const double w[] = {0.025, 0.05, 0.1, 0.1, 0.1};
        check_lrs("optim: {lr: 0.1, schedule: {kind: constant, warmup_steps: 4}}", 1000, s, w,
                  5);
    }
    {
        /* MultiStepLR(milestones=[3, 7], gamma=0.5). */
        const int64_t s[] = {0, 2, 3, 6, 7, 100};
        const double w[] = {1.0, 1.0, 0.5, 0.5, 0.25, 0.25};
        check_lrs("optim: {lr: 1.0, schedule: {kind: multistep, milestones: [3, 7], "
                  "gamma: 0.5}}", 1000, s, w, 6);
    }
    {
        /* ExponentialLR(gamma=0.9): lr 0.9^k. */
        const int64_t s[] = {0, 1, 5, 40};
        const double w[] = {2.0, 1.8, 2.0 * pow(0.9, 5), 2.0 * pow(0.9, 40)};
        check_lrs("optim: {lr: 2.0, schedule: {kind: exponential, gamma: 0.9}}", 1000, s, w, 4);
    }
    {
        /* Warm-up in front of the step schedule: steps count after it. */
        const int64_t s[] = {0, 3, 4, 6, 7, 10};
        const double w[] = {0.25, 1.0, 1.0, 1.0, 0.5, 0.25};
        check_lrs("optim: {lr: 1.0, schedule: {kind: step, step_size: 3, gamma: 0.5, "
                  "warmup_steps: 4}}", 1000, s, w, 6);
    }
    {
        /* SGDR restarts every 10 steps (CosineAnnealingWarmRestarts(T_0=10)). */
        const int64_t s[] = {0, 5, 9, 10, 15, 25};
        const double w[] = {1.0, 0.5, cosine_lr(1.0, 0.0, 0.9), 1.0, 0.5, 0.5};
        check_lrs("optim: {lr: 1.0, schedule: {kind: cosine, restart_steps: 10}}", 1000, s, w,
                  6);
        /* T_mult = 2: cycles of 10, 20, 40 steps. */
        const int64_t s2[] = {0, 10, 20, 29, 30, 50, 70};
        const double w2[] = {1.0, 1.0, 0.5, cosine_lr(1.0, 0.0, 19.0 / 20.0), 1.0, 0.5, 1.0};
        check_lrs("optim: {lr: 1.0, schedule: {kind: cosine, restart_steps: 10, "
                  "restart_mult: 2}}", 1000, s2, w2, 7);
    }
    {
        /* Linear decay to min_lr over the run, then held. */
        const int64_t s[] = {0, 50, 100, 200};
        const double w[] = {1.0, 0.55, 0.1, 0.1};
        check_lrs("optim: {lr: 1.0, schedule: {kind: linear, min_lr: 0.1}}", 100, s, w, 4);
        const int64_t s2[] = {0, 9, 10, 60, 110};
        const double w2[] = {0.1, 1.0, 1.0, 0.5, 0.0};
        check_lrs("optim: {lr: 1.0, schedule: {kind: linear, warmup_steps: 10}}", 110, s2, w2,
                  5);
        /* A run shorter than its warm-up only warms up (no decay to 0). */
        const int64_t s3[] = {0, 9, 19};
        const double w3[] = {0.005, 0.05, 0.1};
        check_lrs("optim: {lr: 1.0, schedule: {kind: linear, warmup_steps: 200}}", 20, s3, w3,
                  3);
        check_lrs("optim: {lr: 1.0, schedule: {kind: cosine, warmup_steps: 200}}", 20, s3, w3,
                  3);
    }
}

/* The linear scaling rule: lr x batch / lr_reference_batch, over the whole
 * schedule; off (factor 1) without a reference batch. */
static void test_linear_scaling(void)
{
    dt_cfg *root;
    dt_optim *o;
    CHECK_OK(make_optim("optim: {kind: sgd, lr: 0.1, lr_reference_batch: 256, "
                        "schedule: {kind: cosine, warmup_steps: 10}}", 110, &root, &o));
    if (o) {
        dt_optim_set_batch(o, 1024);
        CHECK_CLOSE(dt_optim_lr_at(o, 0), 0.04, 1e-12, 0.0);
        CHECK_CLOSE(dt_optim_lr_at(o, 10), 0.4, 1e-12, 0.0);
        CHECK_CLOSE(dt_optim_lr_at(o, 60), 0.2, 1e-12, 0.0);
    }
    dt_optim_destroy(o);
    dt_cfg_free(root);
    CHECK_OK(make_optim("optim: {kind: sgd, lr: 0.1}", 110, &root, &o));
    if (o) {
        dt_optim_set_batch(o, 1024);
        CHECK_CLOSE(dt_optim_lr_at(o, 5), 0.1, 1e-12, 0.0);
    }
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

/* The scheduled rate is the one dt_optim_step applies: plain SGD moves each
 * parameter by exactly lr_t * g. */
static void test_step_uses_schedule(void)
{
    dt_cfg *root;
    dt_optim *o;
    CHECK_OK(make_optim("optim: {kind: sgd, lr: 0.5, schedule: {warmup_steps: 4}}", 100, &root,
                        &o));
    if (o) {
        float p[N_PARAMS];
        memcpy(p, k_p0, sizeof p);
        for (int t = 0; t < 3; t++) {
            float before[N_PARAMS];
            memcpy(before, p, sizeof p);
            dt_optim_step(o, p, k_grads[t]);
            const double lr = 0.5 * (t + 1) / 4.0;
            for (int i = 0; i < N_PARAMS; i++)
                CHECK_CLOSE(p[i], before[i] - lr * k_grads[t][i], 1e-6, 1e-7);
        }
    }
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

/* A bad value is DT_ERR_CONFIG naming the dotted key and the file:line. */
static void check_config_error(const char *yaml, const char *key)
{
    dt_cfg *root;
    dt_optim *o;
    const dt_status s = make_optim(yaml, 100, &root, &o);
    if (s != DT_ERR_CONFIG) {
        fprintf(stderr, "%s:%d: %s: status %d (%s), expected a config error\n", __FILE__,
                __LINE__, yaml, (int)s, dt_error_message());
        dt_test_failures++;
    }
    CHECK(o == NULL);
    CHECK_MSG(key);
    CHECK_MSG("optim.yaml:");
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

static void test_config_errors(void)
{
    check_config_error("optim:\n  kind: sgd\n  lr: -0.1\n", "'optim.lr'");
    check_config_error("optim:\n  kind: adam\n  beta1: 1.0\n", "'optim.beta1'");
    check_config_error("optim:\n  kind: adamw\n  beta2: 1.5\n", "'optim.beta2'");
    check_config_error("optim:\n  kind: sgd\n  nesterov: true\n", "'optim.nesterov'");
    check_config_error("optim:\n  kind: sgd\n  momentum: 0.9\n  dampening: 0.1\n  nesterov: yes\n",
                       "'optim.nesterov'");
    check_config_error("optim:\n  kind: rmsprob\n", "'optim.kind'");
    check_config_error("optim:\n  kind: lamb\n  beta2: 1.0\n", "'optim.beta2'");
    check_config_error("optim:\n  kind: rmsprop\n  alpha: 1.5\n", "'optim.alpha'");
    check_config_error("optim:\n  kind: adadelta\n  rho: -0.5\n", "'optim.rho'");
    check_config_error("optim:\n  kind: adagrad\n  lr_decay: -1\n", "'optim.lr_decay'");
    check_config_error("optim:\n  clip_grad_norm: -1\n", "'optim.clip_grad_norm'");
    check_config_error("optim:\n  lr_reference_batch: -8\n", "'optim.lr_reference_batch'");
    check_config_error("optim:\n  schedule: {kind: multistep}\n", "milestones");
    check_config_error("optim:\n  schedule: {kind: multistep, milestones: [5, 3]}\n",
                       "'optim.schedule.milestones'");
    check_config_error("optim:\n  schedule: {kind: exponential, gamma: 1.5}\n",
                       "'optim.schedule.gamma'");
    check_config_error("optim:\n  kind: sgd\n  momentum: 1.5\n", "'optim.momentum'");
    check_config_error("optim:\n  weight_decay: -1\n", "'optim.weight_decay'");
    check_config_error("optim:\n  schedule: {kind: cosin}\n", "'optim.schedule.kind'");
    check_config_error("optim:\n  schedule: {kind: step, step_size: 0}\n",
                       "'optim.schedule.step_size'");

    /* The messages say what was accepted. */
    check_config_error("optim:\n  kind: rmsprob\n", "rmsprop");
    check_config_error("optim:\n  kind: sgd\n  lr: -0.1\n", "-0.1");
    check_config_error("optim:\n  kind: sgd\n  lr: -0.1\n", "optim.yaml:3");

    /* Momentum is not an Adam key: it is left unread, so the unknown-key
     * check reports it rather than the optimizer ignoring it silently. */
    dt_cfg *root;
    dt_optim *o;
    CHECK_OK(make_optim("optim: {kind: adam, momentum: 0.9}", 10, &root, &o));
    CHECK(dt_cfg_check_unused(root) == DT_ERR_CONFIG);
    CHECK_MSG("momentum");
    dt_optim_destroy(o);
    dt_cfg_free(root);

    /* amsgrad belongs to adam and adamw only. */
    CHECK_OK(make_optim("optim: {kind: sgd, amsgrad: true}", 10, &root, &o));
    CHECK(dt_cfg_check_unused(root) == DT_ERR_CONFIG);
    CHECK_MSG("amsgrad");
    dt_optim_destroy(o);
    dt_cfg_free(root);
}

/* The shard rule: increasing bounds from 0 to n, every start a multiple of
 * DT_SHARD_ALIGN, every shard within DT_SHARD_ALIGN of n / world. */
static void test_shard_bounds(void)
{
    static const int64_t sizes[] = {0, 1, 15, 17, 227, 1000, 535818, 110000003};
    int64_t b[65];
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (int world = 1; world <= 64; world++) {
            const int64_t n = sizes[i];
            dt_optim_shard_bounds(n, world, b);
            CHECK(b[0] == 0 && b[world] == n);
            for (int r = 0; r < world; r++) {
                const double len = (double)(b[r + 1] - b[r]), even = (double)n / world;
                CHECK(b[r] % DT_SHARD_ALIGN == 0 && b[r + 1] >= b[r]);
                CHECK(fabs(len - even) <= DT_SHARD_ALIGN);
            }
        }
}

int main(void)
{
    test_shard_bounds();
    test_updates();
    test_resume();
    test_state();
    test_clipping();
    test_linear_scaling();
    test_defaults();
    test_schedules();
    test_step_uses_schedule();
    test_config_errors();
    return dt_test_result();
}
